"""Dropout (spec 3): inference-time y = x * scale (identity when scale is 1)."""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Dropout"

# ModelWriter order: 0
PARAMS = (
    Param(0, "scale", 1.0),
)


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    if float(p.scale) != 1.0:
        x = ctx.op("Mul", [x, ctx.const(np.float32(p.scale))])
    ctx.top(layer, 0, x, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'scale')
