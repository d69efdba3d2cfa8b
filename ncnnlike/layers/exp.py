"""Exp (exp.cpp): y = base ^ (shift + x * scale); 0=base -1 (the default) means e.

Defaults: base -1, 1=scale 1, 2=shift 0. A base other than -1 is powf(base, t): a negative base
gives NaN for non-integer t, in ncnn as here. Exp has no x86 vector code in ncnn: pip ncnn's answers
on special inputs are libm's, as here (exp(100) = inf, unlike UnaryOp EXP's 2.4e38; measured).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Exp"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "base", -1.0),
    Param(1, "scale", 1.0),
    Param(2, "shift", 0.0),
)

NATURAL = -1.0


def affine(ctx, x, scale, shift):
    """shift + x * scale in float32, as Exp / Log / Power compute their argument (mul, then add)."""
    if scale != 1.0:
        x = ctx.op("Mul", [x, ctx.const(np.float32(scale))])
    if shift != 0.0:
        x = ctx.op("Add", [x, ctx.const(np.float32(shift))])
    return x


def lower(layer, p, ctx):
    t = affine(ctx, ctx.bottom(layer), p.scale, p.shift)
    if float(p.base) == NATURAL:
        y = ctx.op("Exp", [t])
    else:
        y = ctx.op("Pow", [ctx.const(np.float32(p.base)), t])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'base', 'scale', 'shift')
