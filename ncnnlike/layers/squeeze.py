"""Squeeze (squeeze.cpp): drop size-1 axes of a blob, chosen by name flags or by an axes array.

Two forms, as Squeeze::forward reads them:
  flags  0=squeeze_w 1=squeeze_h 11=squeeze_d 2=squeeze_c: drop that axis if the blob has it and it
         is 1 (squeeze_d only means something for 4-D, squeeze_c for 3-D and 4-D)
  axes   3=axes (-23303=..., what pnnx writes; the flags are then ignored): numpy-order axes of the
         blob without batch (1-D: 0=w; 2-D: 0=h 1=w; 3-D: 0=c 1=h 2=w; 4-D: 0=c 1=d 2=h 3=w),
         negative counts from the end; an axis whose size is not 1, or out of range, is ignored
The remaining axes keep their order; squeezing every axis leaves a 1-D blob of one value. Data
order does not change, so the lowering is a reshape. pip ncnn refuses at load time an axes array of
more than 4 values or with a value outside -4..3 (measured; the checked-out squeeze.cpp has no
such check); so do we.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Squeeze"

# ModelWriter order: 0 1 11 2 -23303
PARAMS = (
    Param(0, "squeeze_w", 0),
    Param(1, "squeeze_h", 0),
    Param(11, "squeeze_d", 0),
    Param(2, "squeeze_c", 0),
    Param(3, "axes", []),
)

AXIS_NAMES = {1: "w", 2: "hw", 3: "chw", 4: "cdhw"}


def check_axes(layer, axes, what="axes"):
    """pip ncnn's load-time rule for axes arrays (Squeeze, ExpandDims, Flip, CopyTo): at most 4
    values, each in -4..3."""
    if len(axes) > 4 or any(not -4 <= a <= 3 for a in axes):
        raise NcnnlikeError("layer %s (%s): %s %s: ncnn takes at most 4 values in -4..3"
                            % (layer.name, layer.type, what, list(axes)))


def squeezed_axes(p, shape):
    """The numpy axes (no batch) that Squeeze drops from a blob of `shape`."""
    names = AXIS_NAMES[len(shape)]
    if p.axes:
        wanted = {a + len(shape) if a < 0 else a for a in p.axes}
    else:
        flags = {"w": p.squeeze_w, "h": p.squeeze_h, "d": p.squeeze_d, "c": p.squeeze_c}
        wanted = {i for i, name in enumerate(names) if flags[name]}
    return {i for i in wanted if 0 <= i < len(shape) and shape[i] == 1}


def out_shape(p, shape):
    """The blob shape after squeezing: the kept axes in order, or (1,) when none is kept."""
    drop = squeezed_axes(p, shape)
    kept = tuple(n for i, n in enumerate(shape) if i not in drop)
    return kept or (1,)


def lower_reshape(layer, p, ctx, out_shape):
    """Squeeze and ExpandDims: check the axes array, then reshape the bottom to out_shape(p, shape)
    (the data order never changes); the bottom passes through when the shape stays."""
    check_axes(layer, p.axes)
    shape = ctx.in_shape(layer)
    out = out_shape(p, shape)
    x = ctx.bottom(layer)
    if out != tuple(shape):
        x = ctx.op("Reshape", [x, ctx.ints([0] + list(out))])
    ctx.top(layer, 0, x, out)


def lower(layer, p, ctx):
    lower_reshape(layer, p, ctx, out_shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "squeeze_w", "squeeze_h", "squeeze_d", "squeeze_c")
    checks.axes(p, "axes")
