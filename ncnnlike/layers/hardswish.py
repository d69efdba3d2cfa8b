"""HardSwish (spec 3, hardswish.cpp): y = x * clamp(alpha*x + beta, 0, 1); defaults 0.2 / 0.5.

PyTorch's hardswish needs alpha = 1/6, which converters write explicitly.
"""
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import Param

TYPE = "HardSwish"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "alpha", 0.2),
    Param(1, "beta", 0.5),
)


def lower(layer, p, ctx):
    y = lower_fused(ctx, ctx.bottom(layer), 6, [p.alpha, p.beta])
    ctx.top(layer, 0, y, ctx.in_shape(layer))
