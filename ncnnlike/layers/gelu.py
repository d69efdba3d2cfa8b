"""GELU (spec 3, gelu.cpp): 0.5*x*erfc(-0.70710678*x), or with 0=fast_gelu the tanh approximation
0.5*x*(1 + tanh(0.79788452*(x + 0.044715*x^3)))."""
import numpy as np

from ncnnlike.layers.base import Param

TYPE = "GELU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "fast_gelu", 0),
)


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    one = ctx.const(np.float32(1))
    if p.fast_gelu:
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x]), x])
        inner = ctx.op("Add", [x, ctx.op("Mul", [cube, ctx.const(np.float32(0.044715))])])
        gate = ctx.op("Tanh", [ctx.op("Mul", [inner, ctx.const(np.float32(0.79788452))])])
    else:   # erfc(-z) = 1 + erf(z)
        gate = ctx.op("Erf", [ctx.op("Mul", [x, ctx.const(np.float32(0.70710678))])])
    half_x = ctx.op("Mul", [x, ctx.const(np.float32(0.5))])
    ctx.top(layer, 0, ctx.op("Mul", [half_x, ctx.op("Add", [gate, one])]), ctx.in_shape(layer))
