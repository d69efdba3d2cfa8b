"""What PixelShuffle (depth to space) and Reorg (space to depth) share (not a layer type): the
checks of their 3-D bottom and mode, and the lowering as one view, one transpose and one reshape
(ncnn's loops only move values, so the layout change is exact).
"""
from ncnnlike.errors import NcnnlikeError


def fail(layer, message):
    return NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, message))


def bottom_chw(layer, p, ctx, modes):
    """(c, h, w) of the 3-D bottom, once the mode is known to be one of `modes`."""
    shape = ctx.in_shape(layer)
    if len(shape) != 3:
        raise fail(layer, "expects a 3-D blob, got shape %s" % (shape,))
    if p.mode not in modes:
        raise fail(layer, "mode %d is not 0 or 1" % p.mode)
    return shape


def rearrange(ctx, layer, x, view, perm, out):
    """Top 0 = x viewed as `view` (batch first), transposed by `perm`, reshaped to `out` (ncnn shape)."""
    y = ctx.op("Transpose", [ctx.op("Reshape", [x, ctx.ints(view)])], perm=perm)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(out))]), out)
