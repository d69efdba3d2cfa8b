"""Shrink (shrink.cpp): x < -lambd -> x + bias, x > lambd -> x - bias, else 0 (ONNX Shrink exactly).

Defaults 0=bias 0, 1=lambd 0.5 (hard shrink); bias = lambd is soft shrink.
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Shrink"

# no ModelWriter entry in ncnn; the order of shrink.cpp's load_param
PARAMS = (
    Param(0, "bias", 0.0),
    Param(1, "lambd", 0.5),
)


def lower(layer, p, ctx):
    y = ctx.op("Shrink", [ctx.bottom(layer)], bias=float(p.bias), lambd=float(p.lambd))
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'bias', 'lambd')
