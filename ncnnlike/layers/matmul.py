"""MatMul (spec 3, matmul.cpp): numpy matmul of two bottoms over ncnn shapes; 0=transB transposes
the last two axes of B (a 1-D B is never transposed); 1-D x 1-D gives a 1-element blob."""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "MatMul"

# ModelWriter order: 0
PARAMS = (
    Param(0, "transB", 0),
)


def out_shape(a_shape, b_shape, trans_b):
    """ncnn output shape (numpy order) of A @ B (or A @ B^T), numpy broadcasting of the batch axes."""
    a2 = tuple(a_shape) if len(a_shape) >= 2 else (1,) + tuple(a_shape)
    b2 = tuple(b_shape) if len(b_shape) >= 2 else tuple(b_shape) + (1,)
    if trans_b and len(b_shape) >= 2:
        b2 = b2[:-2] + (b2[-1], b2[-2])
    if a2[-1] != b2[-2]:
        raise ValueError("inner dimensions differ: A %s, B %s%s" % (a_shape, b_shape, " (transB)" if trans_b else ""))
    out = tuple(np.broadcast_shapes(a2[:-2], b2[:-2])) + (a2[-2], b2[-1])
    if len(b_shape) == 1:
        out = out[:-1]
    if len(a_shape) == 1:
        out = out[:-2] + out[-1:] if len(b_shape) > 1 else out[:-1]
    return out or (1,)


def lower_matmul(ctx, a, a_shape, b, b_shape, trans_b):
    """ONNX MatMul of batched tensors a (N, *a_shape), b (N, *b_shape); returns (tensor, ncnn shape)."""
    shape = out_shape(a_shape, b_shape, trans_b)
    if len(a_shape) == 1:
        a = ctx.op("Unsqueeze", [a, ctx.ints([1])])
    if len(b_shape) == 1:
        b = ctx.op("Unsqueeze", [b, ctx.ints([2])])
    elif trans_b:
        rank = len(b_shape) + 1
        b = ctx.op("Transpose", [b], perm=list(range(rank - 2)) + [rank - 1, rank - 2])
    ra, rb = max(len(a_shape), 2), max(len(b_shape), 2)
    if ra < rb:    # align ncnn batch axes right of the runtime batch axis, not against it
        a = ctx.op("Unsqueeze", [a, ctx.ints(list(range(1, 1 + rb - ra)))])
    elif rb < ra:
        b = ctx.op("Unsqueeze", [b, ctx.ints(list(range(1, 1 + ra - rb)))])
    y = ctx.op("MatMul", [a, b])
    if len(a_shape) == 1 or len(b_shape) == 1:
        y = ctx.op("Reshape", [y, ctx.ints([-1] + list(shape))])
    return y, shape


def lower(layer, p, ctx):
    if len(layer.bottoms) != 2:
        raise NcnnlikeError("layer %s (MatMul): needs two bottoms, has %d" % (layer.name, len(layer.bottoms)))
    try:
        y, shape = lower_matmul(ctx, ctx.bottom(layer, 0), ctx.in_shape(layer, 0),
                                ctx.bottom(layer, 1), ctx.in_shape(layer, 1), p.transB)
    except ValueError as exc:
        raise NcnnlikeError("layer %s (MatMul): %s" % (layer.name, exc)) from None
    ctx.top(layer, 0, y, shape)


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "transB")
