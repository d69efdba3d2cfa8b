"""Log (log.cpp): y = log_base(shift + x * scale); 0=base -1 (the default) means e.

Defaults: base -1, 1=scale 1, 2=shift 0. Another base is logf(t) * (1 / logf(base)), the factor
rounded to float once as in ncnn. Log has no x86 vector code in ncnn: pip ncnn's answers on special
inputs are libm's, as here (log(0) = -inf, unlike UnaryOp LOG's NaN; measured).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.exp import NATURAL, affine
from ncnnlike.layers import checks

TYPE = "Log"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "base", -1.0),
    Param(1, "scale", 1.0),
    Param(2, "shift", 0.0),
)


def lower(layer, p, ctx):
    y = ctx.op("Log", [affine(ctx, ctx.bottom(layer), p.scale, p.shift)])
    if float(p.base) != NATURAL:
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.float32(1) / np.log(np.float32(p.base))
        y = ctx.op("Mul", [y, ctx.const(np.float32(inv))])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'base', 'scale', 'shift')
