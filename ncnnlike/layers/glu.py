"""GLU (glu.cpp): y = a * sigmoid(b), a and b the two halves of the bottom along 0=axis.

With n elements along the axis, a is [0, n/2) and b is [n/2, 2*(n/2)): an odd n drops the last
element. axis (default 0) counts ncnn's dims (0 = c for 3-D, negative from the end); a 1-D bottom
ignores it. sigmoid is 1 / (1 + exp(-b)), 0 where exp overflows, as ONNX Sigmoid.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "GLU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "axis", 0),
)


def lower(layer, p, ctx):
    where = "layer %s (GLU)" % layer.name
    shape = ctx.in_shape(layer)
    axis = 0 if len(shape) == 1 else (p.axis + len(shape) if p.axis < 0 else p.axis)
    if not 0 <= axis < len(shape):
        raise NcnnlikeError("%s: axis %d out of range for shape %s" % (where, p.axis, shape))
    half = shape[axis] // 2
    if half == 0:
        raise NcnnlikeError("%s: axis %d of shape %s has fewer than 2 elements" % (where, p.axis, shape))
    x = ctx.bottom(layer)
    onnx_axis = ctx.ints([axis + 1])
    a = ctx.op("Slice", [x, ctx.ints([0]), ctx.ints([half]), onnx_axis])
    b = ctx.op("Slice", [x, ctx.ints([half]), ctx.ints([2 * half]), onnx_axis])
    out_shape = shape[:axis] + (half,) + shape[axis + 1:]
    ctx.top(layer, 0, ctx.op("Mul", [a, ctx.op("Sigmoid", [b])]), out_shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
