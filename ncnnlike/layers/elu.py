"""ELU (spec 3, elu.cpp): x < 0 -> alpha * (exp(x) - 1), else x; 0=alpha defaults to 0.1."""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "ELU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "alpha", 0.1),
)


def lower(layer, p, ctx):
    ctx.top(layer, 0, ctx.op("Elu", [ctx.bottom(layer)], alpha=float(p.alpha)), ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'alpha')
