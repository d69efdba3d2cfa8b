"""AbsVal (absval.cpp): y = |x|; no params."""
TYPE = "AbsVal"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, ctx.op("Abs", [ctx.bottom(layer)]), ctx.in_shape(layer))


BLOBS = (1, 1)
