"""LSTM (spec 3; src/layer/lstm.cpp): gates I, F, O, G; c_t = F c_{t-1} + I G; h_t = O tanh(c_t),
then h_t = weight_hr h_t when num_output != hidden_size (projection, like PyTorch proj_size).

.bin: weight_xc (size, hidden*4, D), bias_c (hidden, 4, D), weight_hc (num_output, hidden*4, D),
[weight_hr (hidden, num_output, D)], all tagged; with int8_scale_term, raw row scales for xc and hc
(hidden*4*D each). ONNX's LSTM has no projection: such layers lower to a Scan (recurrent_scan.py).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.recurrent import Kind, lower_recurrent, weight_specs
from ncnnlike.layers import checks

TYPE = "LSTM"

# ModelWriter order: 0 1 2 3 8. hidden_size means num_output when 0 or absent (ncnn: pd.get(3,
# num_output)); its writer default is 0, so ModelWriter always writes 3= (as pnnx does).
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "weight_data_size", 0),
    Param(2, "direction", 0),
    Param(3, "hidden_size", 0),
    Param(8, "int8_scale_term", 0),
)

# ncnn I, F, O, G <-> ONNX i, o, f, c (the permutation is its own inverse)
GATE_ORDER = [0, 2, 1, 3]


def _reorder(a):
    """Swap the gate blocks (rows) of a (4*hidden, ...) array between ncnn and ONNX order."""
    return np.ascontiguousarray(a.reshape((4, -1) + a.shape[1:])[GATE_ORDER].reshape(a.shape))


def onnx_weights(dw):
    """ONNX LSTM W (4H, size), R (4H, num_output), B = [Wb, Rb] in i, o, f, c order, Rb = 0."""
    wb = _reorder(dw.bias.reshape(-1))
    return _reorder(dw.xc), _reorder(dw.hc), np.concatenate([wb, np.zeros_like(wb)])


def from_onnx(w, r, b):
    """One direction of ONNX LSTM W, R, B -> ncnn (weight_xc, bias_c (4, H), weight_hc)."""
    rows = w.shape[0]
    return _reorder(w), _reorder(b[:rows] + b[rows:]).reshape(4, -1), _reorder(r)


def split_bias(dw):
    return dw.bias.reshape(-1), None


def cell(g, xg, hg, states, dw):
    """One step: states [h (N, num_output), c (N, hidden)] -> [h, c]."""
    i, f, o, gg = g.op("Split", [g.op("Add", [xg, hg])], n_out=4, axis=-1)
    i, f, o, gg = g.op("Sigmoid", [i]), g.op("Sigmoid", [f]), g.op("Sigmoid", [o]), g.op("Tanh", [gg])
    c = g.op("Add", [g.op("Mul", [f, states[1]]), g.op("Mul", [i, gg])])
    h = g.op("Mul", [o, g.op("Tanh", [c])])
    if dw.hr is not None:
        h = g.op("MatMul", [h, g.const(np.ascontiguousarray(dw.hr.T), "weight_hr")])
    return [h, c]


KIND = Kind("LSTM", 4, 4, 2, onnx_weights, {}, split_bias, cell)


def weights(p):
    return weight_specs(KIND, p)


def lower(layer, p, ctx):
    lower_recurrent(layer, p, ctx, KIND)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.recurrent_family(p, 4, 3)
    checks.at_least(p, 0, "hidden_size")
