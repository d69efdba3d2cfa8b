"""HardSigmoid (spec 3, hardsigmoid.cpp): y = clamp(alpha*x + beta, 0, 1); defaults 0.2 / 0.5 (TF).

PyTorch's hardsigmoid needs alpha = 1/6, which converters write explicitly. pip ncnn's x86 code
agrees on special inputs (measured on AVX-512) except NaN, which gives 0 or NaN depending on the
lane (operand order of maxps / minps in its fast-math build): ours NaN.
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "HardSigmoid"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "alpha", 0.2),
    Param(1, "beta", 0.5),
)


def lower(layer, p, ctx):
    y = ctx.op("HardSigmoid", [ctx.bottom(layer)], alpha=float(p.alpha), beta=float(p.beta))
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'alpha', 'beta')
