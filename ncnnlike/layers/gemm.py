"""Gemm (spec 3 Gemm table, gemm.cpp): y = alpha * (A.B + beta*C), A/B/C constant or bottoms.

ncnn matrices: A is (M, K) (or (K, M) with transA), B is (K, N) (or (N, K) with transB); a 3-D
operand (c, 1, w) is a matrix of c rows. C broadcasts by constant_broadcast_type_C (constant C) or
by its shape (bottom C). Output (M, N); output_transpose gives (N, M), output_N1M inserts h = 1.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Gemm"

# ModelWriter order: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 18 20 21 22
PARAMS = (
    Param(0, "alpha", 1.0),
    Param(1, "beta", 1.0),
    Param(2, "transA", 0),
    Param(3, "transB", 0),
    Param(4, "constantA", 0),
    Param(5, "constantB", 0),
    Param(6, "constantC", 0),
    Param(7, "constantM", 0),
    Param(8, "constantN", 0),
    Param(9, "constantK", 0),
    Param(10, "constant_broadcast_type_C", 0),
    Param(11, "output_N1M", 0),
    Param(12, "output_elempack", 0),
    Param(13, "output_elemtype", 0),
    Param(14, "output_transpose", 0),
    Param(18, "quantize_term", 0),
    Param(20, "constant_TILE_M", 0),
    Param(21, "constant_TILE_N", 0),
    Param(22, "constant_TILE_K", 0),
)


def c_count(p):
    """Elements of the constant C by constant_broadcast_type_C: scalar, M, (M,1), (M,N), (1,N)."""
    m, n = p.constantM, p.constantN
    return {0: 1, 1: m, 2: m, 3: m * n, 4: n}[p.constant_broadcast_type_C]


def weights(p):
    """A, B, C tagged (when constant), then int8 scales: A per row (M), B one (spec 3 Gemm)."""
    if p.quantize_term in (4, 5, 6) or p.quantize_term >= 400:
        raise NcnnlikeError("Gemm quantize_term %d is not supported (4-6 are rejected by ncnn, >= 400 is "
                            "LLM weight-block quantization)" % p.quantize_term)
    specs = []
    if p.constantA:
        specs.append(WeightSpec("A_data", p.constantM * p.constantK, True))
    if p.constantB:
        specs.append(WeightSpec("B_data", p.constantN * p.constantK, True))
    if p.constantC and p.constant_broadcast_type_C != -1:
        if p.constant_broadcast_type_C not in (0, 1, 2, 3, 4):
            raise NcnnlikeError("Gemm constant_broadcast_type_C %d must be -1 or 0..4" % p.constant_broadcast_type_C)
        specs.append(WeightSpec("C_data", c_count(p), True))
    if p.quantize_term:
        if p.constantA:
            specs.append(WeightSpec("A_data_int8_scales", p.constantM, False))
        if p.constantB:
            specs.append(WeightSpec("B_data_int8_scale", 1, False))
    return specs


def as_matrix(ctx, tensor, shape, what):
    """A bottom as a batched ONNX matrix (N, rows, w): 1-D is one row, 3-D (c, 1, w) is c rows."""
    if len(shape) == 1:
        return ctx.op("Unsqueeze", [tensor, ctx.ints([1])]), (1, shape[0])
    if len(shape) == 2:
        return tensor, tuple(shape)
    if len(shape) == 3 and shape[1] == 1:
        return ctx.op("Reshape", [tensor, ctx.ints([0, shape[0], shape[2]])]), (shape[0], shape[2])
    raise ValueError("%s has shape %s; expected 1-D, 2-D or (c, 1, w)" % (what, shape))


def operand(ctx, layer, p, name, constant, rows, cols, transposed, bottoms):
    """(tensor, (rows, cols)) of A or B in non-transposed orientation, from weights or the next bottom."""
    if constant:
        m = layer.weight(name).reshape((cols, rows) if transposed else (rows, cols))
        return ctx.const(np.ascontiguousarray(m.T if transposed else m), layer.name + "_" + name), (rows, cols)
    if not bottoms:
        raise ValueError("%s is not constant, so it needs a bottom, but the layer has too few" % name[0])
    blob = bottoms.pop(0)
    t, shape = as_matrix(ctx, ctx.float_of(blob), ctx.shape(blob), name[0])
    if transposed:
        return ctx.op("Transpose", [t], perm=[0, 2, 1]), shape[::-1]
    return t, shape


def c_term(ctx, layer, p, m, n, bottoms):
    """C reshaped to broadcast over (N, M, N'), or None."""
    if p.constantC:
        if p.constant_broadcast_type_C == -1:
            return None
        c = layer.weight("C_data")
        kind = p.constant_broadcast_type_C
        shape = {0: (1, 1), 1: (m, 1), 2: (m, 1), 3: (m, n), 4: (1, n)}[kind]
        return ctx.const(c.reshape(shape), layer.name + "_C")
    if not bottoms:
        return None
    blob = bottoms.pop(0)
    cs = ctx.shape(blob)
    kind = None   # ncnn's shape rules, later matches win (gemm.cpp forward)
    if len(cs) == 1 and cs[0] == 1:
        kind = 0
    if len(cs) == 1 and cs[0] == m:
        kind = 1
    if len(cs) == 1 and cs[0] == n:
        kind = 4
    if len(cs) == 2 and cs == (m, 1):
        kind = 2
    if len(cs) == 2 and cs == (m, n):
        kind = 3
    if len(cs) == 2 and cs == (1, n):
        kind = 4
    if kind is None:
        raise ValueError("C has shape %s, which broadcasts to neither M=%d nor N=%d" % (cs, m, n))
    shape = {0: (1, 1), 1: (m, 1), 2: (m, 1), 3: (m, n), 4: (1, n)}[kind]
    return ctx.op("Reshape", [ctx.float_of(blob), ctx.ints([0, shape[0], shape[1]])])


def lower_gemm(ctx, layer, p):
    bottoms = list(layer.bottoms)
    a, (m, k) = operand(ctx, layer, p, "A_data", p.constantA, p.constantM, p.constantK, p.transA, bottoms)
    b, (k2, n) = operand(ctx, layer, p, "B_data", p.constantB, p.constantK, p.constantN, p.transB, bottoms)
    if k != k2:
        raise ValueError("A is %dx%d but B is %dx%d" % (m, k, k2, n))
    y = ctx.op("MatMul", [a, b])
    c = c_term(ctx, layer, p, m, n, bottoms)
    if c is not None:
        if float(p.beta) != 1.0:
            c = ctx.op("Mul", [c, ctx.const(np.float32(p.beta))])
        y = ctx.op("Add", [y, c])
    if float(p.alpha) != 1.0:
        y = ctx.op("Mul", [y, ctx.const(np.float32(p.alpha))])
    rows, cols = (n, m) if p.output_transpose else (m, n)
    if p.output_transpose:
        y = ctx.op("Transpose", [y], perm=[0, 2, 1])
    if p.output_N1M:
        return ctx.op("Unsqueeze", [y, ctx.ints([2])]), (rows, 1, cols)
    return y, (rows, cols)


def lower(layer, p, ctx):
    if p.quantize_term:
        raise NcnnlikeError("layer %s (Gemm): int8 execution not available yet (quantize_term=%d)"
                            % (layer.name, p.quantize_term))
    try:
        y, shape = lower_gemm(ctx, layer, p)
    except ValueError as exc:
        raise NcnnlikeError("layer %s (Gemm): %s" % (layer.name, exc)) from None
    ctx.top(layer, 0, y, shape)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "transA", "transB", "constantA", "constantB", "constantC")
    if p.constantA:
        checks.positive(p, "constantM", "constantK")
    if p.constantB:
        checks.positive(p, "constantN", "constantK")
    if p.constantC:
        checks.between(p, -1, 4, "constant_broadcast_type_C")
    if p.quantize_term in (4, 5, 6) or p.quantize_term < 0:
        raise checks.Invalid("quantize_term=%d: ncnn's load_param refuses it" % p.quantize_term)
    operands = 2 - p.constantA - p.constantB
    checks.blob_count(p, (operands, operands + 1), 1)
    checks.finite(p, "alpha", "beta")
