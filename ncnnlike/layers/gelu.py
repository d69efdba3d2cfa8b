"""GELU (spec 3, gelu.cpp): 0.5*x*erfc(-0.70710678*x), or with 0=fast_gelu the tanh approximation
0.5*x*(1 + tanh(0.79788452*(x + 0.044715*x^3))).

The product is formed as pip ncnn's x86 vector code does (measured on AVX-512): (1 + erf) * x, then
* 0.5, which overflows to +-inf for |x| > 1.7e38 (every lane); with fast_gelu (0.5 * x) * (1 + tanh),
finite there (ncnn's scalar C for a row's last size % 4 elements gives inf: not reproduced). Scaling
by 0.5 is exact, so ordinary values do not depend on the order.
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

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
    half = ctx.const(np.float32(0.5))
    if p.fast_gelu:
        y = ctx.op("Mul", [ctx.op("Mul", [x, half]), ctx.op("Add", [gate, one])])
    else:
        y = ctx.op("Mul", [ctx.op("Mul", [ctx.op("Add", [gate, one]), x]), half])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "fast_gelu")
