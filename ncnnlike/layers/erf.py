"""Erf (erf.cpp): y = erf(x); no params."""
TYPE = "Erf"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, ctx.op("Erf", [ctx.bottom(layer)]), ctx.in_shape(layer))


BLOBS = (1, 1)
