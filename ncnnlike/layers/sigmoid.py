"""Sigmoid (spec 3, sigmoid.cpp): 1/(1+exp(-x)) after clamping x to +-88.3762626647949, as ncnn."""
from ncnnlike.layers.activation import lower_fused

TYPE = "Sigmoid"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, lower_fused(ctx, ctx.bottom(layer), 4, []), ctx.in_shape(layer))
