"""TanH (spec 3, tanh.cpp): y = tanh(x)."""
TYPE = "TanH"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, ctx.op("Tanh", [ctx.bottom(layer)]), ctx.in_shape(layer))
