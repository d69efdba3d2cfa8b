"""Flatten (spec 3, flatten.cpp): a 1-D blob of w*h*d*c elements in channel-major (row-major) order."""
import math

TYPE = "Flatten"

PARAMS = ()


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    x = ctx.bottom(layer)
    y = x if len(shape) == 1 else ctx.op("Flatten", [x], axis=1)
    ctx.top(layer, 0, y, (math.prod(shape),))


BLOBS = (1, 1)
