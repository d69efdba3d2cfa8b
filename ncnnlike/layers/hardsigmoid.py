"""HardSigmoid (spec 3, hardsigmoid.cpp): y = clamp(alpha*x + beta, 0, 1); defaults 0.2 / 0.5 (TF).

PyTorch's hardsigmoid needs alpha = 1/6, which converters write explicitly.
"""
from ncnnlike.layers.base import Param

TYPE = "HardSigmoid"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "alpha", 0.2),
    Param(1, "beta", 0.5),
)


def lower(layer, p, ctx):
    y = ctx.op("HardSigmoid", [ctx.bottom(layer)], alpha=float(p.alpha), beta=float(p.beta))
    ctx.top(layer, 0, y, ctx.in_shape(layer))
