"""Threshold (threshold.cpp): y = 1 if x > threshold else 0; 0=threshold defaults to 0."""
import numpy as np
import onnx

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Threshold"

# ModelWriter order: 0
PARAMS = (
    Param(0, "threshold", 0.0),
)


def lower(layer, p, ctx):
    above = ctx.op("Greater", [ctx.bottom(layer), ctx.const(np.float32(p.threshold))])
    ctx.top(layer, 0, ctx.op("Cast", [above], to=onnx.TensorProto.FLOAT), ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'threshold')
