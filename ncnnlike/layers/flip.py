"""Flip (flip.cpp): reverse a blob along the numpy-order axes of 0=axes (-23300=...).

Axes are those of the blob without batch (2-D: 0=h 1=w; 3-D: 0=c 1=h 2=w; 4-D: 0=c 1=d 2=h 3=w),
negative counting from the end; a 1-D blob is reversed whatever its axes. No axes: unchanged.
pip ncnn refuses at load time more than 4 axes or one outside -4..3 (measured); an axis that is
still negative after adding dims writes outside ncnn's flag array: we refuse both.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.squeeze import check_axes
from ncnnlike.layers import checks

TYPE = "Flip"

# ModelWriter: no Flip branch, schema order: -23300
PARAMS = (
    Param(0, "axes", []),
)

INT64_MIN = -(2 ** 63)


def flipped_axes(layer, p, dims):
    """The sorted numpy axes (no batch) that Flip reverses, or a clear error."""
    check_axes(layer, p.axes)
    axes = set()
    for axis in p.axes:
        a = axis + dims if axis < 0 else axis
        if not 0 <= a < 4:
            raise NcnnlikeError("layer %s (Flip): axis %d out of range for a %d-D blob" % (layer.name, axis, dims))
        axes.add(a)
    if dims == 1:
        return [0] if axes else []
    return sorted(a for a in axes if a < dims)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    axes = flipped_axes(layer, p, len(shape))
    x = ctx.bottom(layer)
    if axes:
        n = len(axes)
        x = ctx.op("Slice", [x, ctx.ints([-1] * n), ctx.ints([INT64_MIN] * n), ctx.ints([a + 1 for a in axes]),
                             ctx.ints([-1] * n)])
    ctx.top(layer, 0, x, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.length(p, "axes", 0, 4)
    checks.axes(p, "axes")
