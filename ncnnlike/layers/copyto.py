"""CopyTo (copyto.cpp): top = bottom 0 ("self") with bottom 1 ("src") written over it at an offset.

Offsets (per numpy-order axis of self, without batch) come from
  0=woffset 1=hoffset 13=doffset 2=coffset, or
  9=starts with 11=axes (-23309=... / -23311=..., numpy style, what pnnx writes for slice_scatter):
      axes default to 0, 1, ... for each start; a negative start counts from the end of self's axis,
      -233 means 0; a 1-D blob takes every start as its w offset.
When src has exactly self's shape the top is src itself. src must have self's rank and fit inside
self at the offsets: ncnn copies rows without any bound check, so a window that does not fit (or
fewer starts than axes) is refused here. pip ncnn refuses at load time more than 4 starts, axes
outside -4..3, and starts and axes of different lengths (measured); so do we.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.squeeze import check_axes
from ncnnlike.layers import checks

TYPE = "CopyTo"

ABSENT = -233

# ModelWriter order: 0 1 13 2 -23309 -23311
PARAMS = (
    Param(0, "woffset", 0),
    Param(1, "hoffset", 0),
    Param(13, "doffset", 0),
    Param(2, "coffset", 0),
    Param(9, "starts", []),
    Param(11, "axes", []),
)

AXIS_NAMES = {1: "w", 2: "hw", 3: "chw", 4: "cdhw"}


def numpy_style(p, shape):
    """Offsets per numpy axis from starts / axes, as resolve_copyto_offset computes them."""
    dims = len(shape)
    offsets = [0] * dims
    axes = [a + dims if a < 0 else a for a in p.axes] if p.axes else list(range(dims))
    if len(p.starts) < len(axes):
        raise ValueError("%d starts for %d axes" % (len(p.starts), len(axes)))
    for axis, start in zip(axes, p.starts):
        axis = 0 if dims == 1 else axis
        if 0 <= axis < dims:
            start = 0 if start == ABSENT else start
            offsets[axis] = start if start >= 0 else shape[axis] + start
    return offsets


def offsets_of(p, shape):
    """Offsets per numpy axis of self (starts form, or the named offsets)."""
    if p.starts:
        return numpy_style(p, shape)
    named = {"w": p.woffset, "h": p.hoffset, "d": p.doffset, "c": p.coffset}
    return [named[name] for name in AXIS_NAMES[len(shape)]]


def check(layer, p, shape, src):
    """The offsets, or a clear error for params pip ncnn refuses or a window that does not fit."""
    where = "layer %s (CopyTo)" % layer.name
    check_axes(layer, p.axes)
    if len(p.starts) > 4 or (p.axes and len(p.axes) != len(p.starts)):
        raise NcnnlikeError("%s: starts %s and axes %s: ncnn takes at most 4 starts, one per axis"
                            % (where, p.starts, p.axes))
    if len(src) != len(shape) or not 1 <= len(shape) <= 4:
        raise NcnnlikeError("%s: src %s must have the rank of self %s" % (where, src, shape))
    try:
        offsets = offsets_of(p, shape)
    except ValueError as exc:
        raise NcnnlikeError("%s: %s" % (where, exc)) from None
    if any(o < 0 or o + n > m for o, n, m in zip(offsets, src, shape)):
        raise NcnnlikeError("%s: src %s at offsets %s does not fit in self %s" % (where, src, offsets, shape))
    return offsets


def lower(layer, p, ctx):
    shape, src = ctx.in_shape(layer, 0), ctx.in_shape(layer, 1)
    if tuple(src) == tuple(shape):
        ctx.top(layer, 0, ctx.bottom(layer, 1), shape)
        return
    offsets = check(layer, p, shape, src)
    after = [m - o - n for o, n, m in zip(offsets, src, shape)]
    padded = ctx.op("Pad", [ctx.bottom(layer, 1), ctx.ints([0] + offsets + [0] + after)])
    window = np.zeros(shape, bool)
    window[tuple(slice(o, o + n) for o, n in zip(offsets, src))] = True
    y = ctx.op("Where", [ctx.const(window, "copyto_window"), padded, ctx.bottom(layer, 0)])
    ctx.top(layer, 0, y, shape)


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.axes(p, "axes")
    if p.axes:
        checks.length(p, "starts", len(p.axes), len(p.axes))
