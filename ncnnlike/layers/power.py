"""Power (power.cpp): y = (shift + x * scale) ^ power; defaults 0=power 1, 1=scale 1, 2=shift 0.

powf semantics: a negative base gives NaN for a non-integer power, a real value for an integer one.
ncnn always adds the shift, so with shift 0 an input -0 becomes +0: (-0)^-1 is +inf in ncnn (-inf
in powf); a negative odd integer power adds that 0 here too (the only powers where it shows).
Power has no x86 vector code in ncnn: pip ncnn's answers on special inputs (0, +-inf, NaN, huge)
are powf's, as here (measured on AVX-512).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.exp import affine
from ncnnlike.layers import checks

TYPE = "Power"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "power", 1.0),
    Param(1, "scale", 1.0),
    Param(2, "shift", 0.0),
)


def lower(layer, p, ctx):
    t = affine(ctx, ctx.bottom(layer), p.scale, p.shift)
    if p.shift == 0.0 and p.power < 0 and float(p.power) % 2 == 1:
        t = ctx.op("Add", [t, ctx.const(np.float32(0))])      # -0 + 0 = +0, as ncnn's shift + x * scale
    y = t if p.power == 1.0 else ctx.op("Pow", [t, ctx.const(np.float32(p.power))])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'power', 'scale', 'shift')
