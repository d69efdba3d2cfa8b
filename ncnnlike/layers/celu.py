"""CELU (celu.cpp): x < 0 -> alpha * (exp(x / alpha) - 1), else x; 0=alpha defaults to 1.0."""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "CELU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "alpha", 1.0),
)


def lower(layer, p, ctx):
    ctx.top(layer, 0, ctx.op("Celu", [ctx.bottom(layer)], alpha=float(p.alpha)), ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'alpha')
