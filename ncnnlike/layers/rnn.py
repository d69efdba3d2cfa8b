"""RNN (spec 3; src/layer/rnn.cpp): h_t = tanh(bias_c + weight_xc x_t + weight_hc h_{t-1}).

.bin: weight_xc (size, num_output, D), bias_c (num_output, 1, D), weight_hc (num_output, num_output, D),
all tagged; with int8_scale_term, raw row scales for xc and hc (num_output*D each).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.recurrent import Kind, lower_recurrent, weight_specs
from ncnnlike.layers import checks

TYPE = "RNN"

# ModelWriter order: 0 1 2 8
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "weight_data_size", 0),
    Param(2, "direction", 0),
    Param(8, "int8_scale_term", 0),
)


def onnx_weights(dw):
    """ONNX RNN W (H, size), R (H, H), B = [Wb, Rb] with Wb = bias_c, Rb = 0."""
    return dw.xc, dw.hc, np.concatenate([dw.bias[0], np.zeros_like(dw.bias[0])])


def from_onnx(w, r, b):
    """One direction of ONNX RNN W, R, B -> ncnn (weight_xc, bias_c, weight_hc); bias_c = Wb + Rb."""
    hidden = r.shape[0]
    return w, (b[:hidden] + b[hidden:])[None, :], r


def split_bias(dw):
    return dw.bias[0], None


def cell(g, xg, hg, states, dw):
    return [g.op("Tanh", [g.op("Add", [xg, hg])])]


KIND = Kind("RNN", 1, 1, 1, onnx_weights, {}, split_bias, cell)


def weights(p):
    return weight_specs(KIND, p)


def lower(layer, p, ctx):
    lower_recurrent(layer, p, ctx, KIND)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.recurrent_family(p, 1, 2)
