"""ReLU (spec 3, relu.cpp): max(x, 0), or leaky (x < 0 -> x * slope) when 0=slope is non-zero."""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "ReLU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "slope", 0.0),
)


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    y = ctx.op("Relu", [x]) if p.slope == 0.0 else ctx.op("LeakyRelu", [x], alpha=float(p.slope))
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'slope')
