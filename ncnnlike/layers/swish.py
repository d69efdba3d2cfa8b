"""Swish (spec 3, swish.cpp): y = x / (1 + exp(-x)), i.e. x * sigmoid(x) (no clamp in ncnn)."""
TYPE = "Swish"

PARAMS = ()


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    ctx.top(layer, 0, ctx.op("Mul", [x, ctx.op("Sigmoid", [x])]), ctx.in_shape(layer))
