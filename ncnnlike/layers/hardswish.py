"""HardSwish (spec 3, hardswish.cpp): y = x * clamp(alpha*x + beta, 0, 1); defaults 0.2 / 0.5.

PyTorch's hardswish needs alpha = 1/6, which converters write explicitly. pip ncnn's x86 code
agrees on special inputs (measured on AVX-512) except -inf, which gives 0 or NaN depending on the
lane (0 * -inf in its vector code): ours NaN.
"""
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "HardSwish"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "alpha", 0.2),
    Param(1, "beta", 0.5),
)


def lower(layer, p, ctx):
    y = lower_fused(ctx, ctx.bottom(layer), 6, [p.alpha, p.beta])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'alpha', 'beta')
