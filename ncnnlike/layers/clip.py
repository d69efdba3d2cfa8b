"""Clip (spec 3, clip.cpp): clamp to [0=min, 1=max], defaults -FLT_MAX and FLT_MAX."""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Clip"

FLT_MAX = float(np.finfo(np.float32).max)

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "min", -FLT_MAX),
    Param(1, "max", FLT_MAX),
)


def lower(layer, p, ctx):
    y = ctx.op("Clip", [ctx.bottom(layer), ctx.const(np.float32(p.min)), ctx.const(np.float32(p.max))])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'min', 'max')
