"""ArgMax (argmax.cpp): the topk largest values of the whole blob and where they are.

The blob is ranked as one flat array in (c, d, h, w) order, largest first; equal values rank the
larger index first (argmax.cpp sorts (value, index) pairs with std::greater). The top is 2-D:
  0=out_max_val 0   (1, topk): the indices
  0=out_max_val 1   (2, topk): row 0 the values, row 1 the indices
indices are float32 (exact below 2**24). topk (1=topk) must be 1..size (ncnn's partial_sort reads
past the end otherwise).

Not in pip ncnn: its build leaves ArgMax out (create_layer("ArgMax") is None and a .param with it
fails to load), so a model using it runs here but not there. argmax.cpp reads total() = cstep * c
elements, so for a 3-D/4-D blob whose channel size is not a multiple of 4 it would also rank the
uninitialized padding between channels and count indices in padded memory; we rank the blob's
own elements and count in its dense (c, d, h, w) order.
"""
import math

import onnx

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "ArgMax"

INT64_MIN = -(2 ** 63)

# ModelWriter: no ArgMax branch, schema order: 0 1
PARAMS = (
    Param(0, "out_max_val", 0),
    Param(1, "topk", 1),
)


def lower(layer, p, ctx):
    size = math.prod(ctx.in_shape(layer))
    if not 1 <= p.topk <= size:
        raise NcnnlikeError("layer %s (ArgMax): topk %d must be 1..%d (the blob size)" % (layer.name, p.topk, size))
    flat = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, -1])])
    # TopK ranks equal values lower index first: reversed, that is ncnn's larger index first
    backwards = ctx.op("Slice", [flat, ctx.ints([-1]), ctx.ints([INT64_MIN]), ctx.ints([1]), ctx.ints([-1])])
    values, where = ctx.op("TopK", [backwards, ctx.ints([p.topk])], n_out=2, axis=1, largest=1, sorted=1)
    index = ctx.op("Sub", [ctx.ints([size - 1]), where])
    index = ctx.op("Cast", [index], to=onnx.TensorProto.FLOAT)
    rows = [values, index] if p.out_max_val else [index]
    y = ctx.op("Concat", rows, axis=1) if len(rows) > 1 else index
    out = (len(rows), p.topk)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(out))]), out)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "out_max_val")
    checks.positive(p, "topk")
