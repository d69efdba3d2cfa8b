"""Power (power.cpp): y = (shift + x * scale) ^ power; defaults 0=power 1, 1=scale 1, 2=shift 0.

powf semantics: a negative base gives NaN for a non-integer power, a real value for an integer one.
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.exp import affine

TYPE = "Power"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "power", 1.0),
    Param(1, "scale", 1.0),
    Param(2, "shift", 0.0),
)


def lower(layer, p, ctx):
    t = affine(ctx, ctx.bottom(layer), p.scale, p.shift)
    y = t if p.power == 1.0 else ctx.op("Pow", [t, ctx.const(np.float32(p.power))])
    ctx.top(layer, 0, y, ctx.in_shape(layer))
