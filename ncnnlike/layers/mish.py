"""Mish (spec 3, mish.cpp): y = x * tanh(ln(1 + exp(x))); ncnn's +-20 softplus shortcuts agree to fp32."""
from ncnnlike.layers.activation import lower_fused

TYPE = "Mish"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, lower_fused(ctx, ctx.bottom(layer), 5, []), ctx.in_shape(layer))
