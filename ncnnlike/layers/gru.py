"""GRU (spec 3; src/layer/gru.cpp): gates R (reset), U (update), N (new), ONNX's linear_before_reset=1:

  R = sigmoid(b_R + W_R x + U_R h), U = sigmoid(b_U + W_U x + U_U h)
  N = tanh(b_WN + W_N x + R * (b_BN + U_N h)),  h_t = (1 - U) N + U h_{t-1}

.bin: weight_xc (size, num_output*3, D), bias_c (num_output, 4, D) with rows R, U, WN, BN,
weight_hc (num_output, num_output*3, D), all tagged; with int8_scale_term, raw row scales for xc
and hc (num_output*3*D each).
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers.recurrent import Kind, lower_recurrent, weight_specs
from ncnnlike.layers import checks

TYPE = "GRU"

# ModelWriter order: 0 1 2 8
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "weight_data_size", 0),
    Param(2, "direction", 0),
    Param(8, "int8_scale_term", 0),
)

# ncnn R, U, N <-> ONNX z (update), r (reset), h (the permutation is its own inverse)
GATE_ORDER = [1, 0, 2]


def _reorder(a):
    """Swap the gate blocks (rows) of a (3*hidden, ...) array between ncnn and ONNX order."""
    return np.ascontiguousarray(a.reshape((3, -1) + a.shape[1:])[GATE_ORDER].reshape(a.shape))


def onnx_weights(dw):
    """ONNX GRU W (3H, size), R (3H, H), B = [Wb_z, Wb_r, Wb_h, Rb_z, Rb_r, Rb_h] = [U, R, WN, 0, 0, BN]."""
    r, u, wn, bn = dw.bias
    zero = np.zeros_like(r)
    return _reorder(dw.xc), _reorder(dw.hc), np.concatenate([u, r, wn, zero, zero, bn])


def from_onnx(w, r, b):
    """One direction of ONNX GRU (linear_before_reset=1) W, R, B -> ncnn (weight_xc, bias_c (4, H),
    weight_hc): R and U biases are summed, WN = Wb_h, BN = Rb_h."""
    wz, wr, wh, rz, rr, rh = b.reshape(6, -1)
    return _reorder(w), np.stack([wr + rr, wz + rz, wh, rh]), _reorder(r)


def split_bias(dw):
    """x side: R, U, WN; h side: 0, 0, BN (BN sits inside the reset product)."""
    r, u, wn, bn = dw.bias
    zero = np.zeros_like(r)
    return np.concatenate([r, u, wn]), np.concatenate([zero, zero, bn])


def cell(g, xg, hg, states, dw):
    """One step: states [h (N, num_output)] -> [h]."""
    xr, xu, xn = g.op("Split", [xg], n_out=3, axis=-1)
    hr, hu, hn = g.op("Split", [hg], n_out=3, axis=-1)
    r = g.op("Sigmoid", [g.op("Add", [xr, hr])])
    u = g.op("Sigmoid", [g.op("Add", [xu, hu])])
    n = g.op("Tanh", [g.op("Add", [g.op("Mul", [r, hn]), xn])])
    one_minus_u = g.op("Sub", [g.const(np.float32(1.0)), u])
    return [g.op("Add", [g.op("Mul", [one_minus_u, n]), g.op("Mul", [u, states[0]])])]


KIND = Kind("GRU", 3, 4, 1, onnx_weights, {"linear_before_reset": 1}, split_bias, cell)


def weights(p):
    return weight_specs(KIND, p)


def lower(layer, p, ctx):
    lower_recurrent(layer, p, ctx, KIND)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.recurrent_family(p, 3, 2)
