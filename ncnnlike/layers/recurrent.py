"""RNN / LSTM / GRU common code (spec 3 "RNN / LSTM / GRU"): sizes, .bin buffers, per-direction
weights, and the lowering of ncnn's recurrence to ONNX.

Blob layout (src/layer/{rnn,lstm,gru}.cpp): the input blob is 2-D (h=T, w=size); the output is
(h=T, w=num_output*D), forward then reverse outputs concatenated along w. Optional state bottoms /
tops (hidden, and cell for LSTM) have D*num_output (cell: D*hidden_size) values, shape (D, n).

Two lowerings with the same maths:
  - the native ONNX RNN / LSTM / GRU op (float weights, no LSTM projection): fast;
  - a Scan over time steps (recurrent_scan.py) for LSTM projection and for int8 weights, where
    ncnn quantizes the activations dynamically per time step (spec 3, reproduced exactly).
Each type module (rnn.py, lstm.py, gru.py) describes its gate layout in a Kind.
"""
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import WeightSpec
from ncnnlike.layers.recurrent_scan import lower_scan


@dataclass(frozen=True)
class Kind:
    """What differs between RNN, LSTM and GRU.

    name          ncnn type = ONNX op name
    gates         weight rows per hidden unit (1, 4, 3); bias_rows: rows of bias_c (1, 4, 4)
    states        1 (hidden) or 2 (hidden, cell)
    onnx_weights  DirWeights -> (W, R, B) of one direction for the native ONNX op
    onnx_attrs    extra attributes of the native ONNX op
    split_bias    DirWeights -> (bias added to the x term, bias added to the h term or None)
    cell          (g, xg, hg, states, dw) -> new states: the step maths in ONNX ops (g: ctx or Body)
    """
    name: str
    gates: int
    bias_rows: int
    states: int
    onnx_weights: object
    onnx_attrs: dict
    split_bias: object
    cell: object


@dataclass(frozen=True)
class Dims:
    """Sizes of one recurrent layer, resolved as ncnn's load_model does."""
    directions: int
    num_output: int
    hidden: int
    size: int
    gates: int

    @property
    def rows(self):
        """Weight rows per direction: gates * hidden."""
        return self.gates * self.hidden


def dims(kind, p, where=None):
    """Dims from the params; size = weight_data_size / D / hidden / gates (integer division)."""
    where = where or kind.name
    directions = 2 if p.direction == 2 else 1
    if p.direction not in (0, 1, 2):
        raise NcnnlikeError("%s: direction (2=) must be 0, 1 or 2, got %d" % (where, p.direction))
    hidden = getattr(p, "hidden_size", 0) or p.num_output
    if p.num_output <= 0 or hidden <= 0:
        raise NcnnlikeError("%s: num_output (0=) must be positive, got %d" % (where, p.num_output))
    size = p.weight_data_size // directions // hidden // kind.gates
    if size <= 0:
        raise NcnnlikeError("%s: weight_data_size (1=) %d is too small for %d gate rows"
                            % (where, p.weight_data_size, directions * hidden * kind.gates))
    return Dims(directions, p.num_output, hidden, size, kind.gates)


def weight_specs(kind, p):
    """weight_xc, bias_c, weight_hc [, weight_hr] (all tagged), then the two raw int8 scale arrays."""
    d = dims(kind, p)
    specs = [WeightSpec("weight_xc_data", d.directions * d.rows * d.size, True),
             WeightSpec("bias_c_data", d.directions * kind.bias_rows * d.hidden, True),
             WeightSpec("weight_hc_data", d.directions * d.rows * d.num_output, True)]
    if d.hidden != d.num_output:
        specs.append(WeightSpec("weight_hr_data", d.directions * d.num_output * d.hidden, True))
    if p.int8_scale_term:
        specs.append(WeightSpec("weight_xc_data_int8_scales", d.directions * d.rows, False))
        specs.append(WeightSpec("weight_hc_data_int8_scales", d.directions * d.rows, False))
    return specs


@dataclass
class DirWeights:
    """One direction's buffers as float32: xc (rows, size), bias (bias_rows, hidden),
    hc (rows, num_output), hr (num_output, hidden) or None; int8 row scales or None."""
    xc: np.ndarray
    bias: np.ndarray
    hc: np.ndarray
    hr: np.ndarray = None
    xc_scales: np.ndarray = None
    hc_scales: np.ndarray = None

    def dequantized(self):
        """Float weights value/scale per row: the float view of int8 weights."""
        if self.xc_scales is None:
            return self
        return DirWeights(self.xc / self.xc_scales[:, None], self.bias, self.hc / self.hc_scales[:, None], self.hr)


def direction_weights(layer, kind, d, int8):
    """The layer's buffers split per direction; int8 scales attached when `int8`."""
    def buf(name, shape):
        if name not in layer.weights:
            raise NcnnlikeError("layer %s (%s): weight buffer '%s' is missing" % (layer.name, kind.name, name))
        arr = layer.weight(name)
        if arr.size != int(np.prod(shape)):
            raise NcnnlikeError("layer %s (%s): weight buffer '%s' has %d values, expected %d"
                                % (layer.name, kind.name, name, arr.size, int(np.prod(shape))))
        return arr.reshape(shape)

    D = d.directions
    xc = buf("weight_xc_data", (D, d.rows, d.size))
    bias = buf("bias_c_data", (D, kind.bias_rows, d.hidden))
    hc = buf("weight_hc_data", (D, d.rows, d.num_output))
    hr = buf("weight_hr_data", (D, d.num_output, d.hidden)) if d.hidden != d.num_output else [None] * D
    if not int8:
        return [DirWeights(xc[i], bias[i], hc[i], hr[i]) for i in range(D)]
    for name in ("weight_xc_data", "weight_hc_data"):
        if np.asarray(layer.weights[name]).dtype != np.int8:
            raise NcnnlikeError("layer %s (%s): int8_scale_term is set but '%s' is not stored as int8"
                                % (layer.name, kind.name, name))
    xs = buf("weight_xc_data_int8_scales", (D, d.rows))
    hs = buf("weight_hc_data_int8_scales", (D, d.rows))
    return [DirWeights(xc[i], bias[i], hc[i], hr[i], xs[i], hs[i]) for i in range(D)]


def check_blobs(layer, kind):
    """1 or 1+states bottoms and tops, as ncnn's forward accepts."""
    allowed = (1, 1 + kind.states)
    if len(layer.bottoms) not in allowed or len(layer.tops) not in allowed:
        raise NcnnlikeError("layer %s (%s): expected %s bottoms and tops (input [+ states]), got %d and %d"
                            % (layer.name, kind.name, " or ".join(map(str, allowed)),
                               len(layer.bottoms), len(layer.tops)))


def sequence_input(ctx, layer, d):
    """The input blob as an ONNX tensor (T, N, size), and T. ncnn reads rows of a 2-D blob."""
    shape = ctx.in_shape(layer)
    x = ctx.bottom(layer)
    if len(shape) == 1:
        shape = (1,) + tuple(shape)
        x = ctx.op("Unsqueeze", [x, ctx.ints([1])])
    elif len(shape) == 3 and shape[0] == 1:
        shape = tuple(shape[1:])
        x = ctx.op("Reshape", [x, ctx.ints([0, shape[0], shape[1]])])
    if len(shape) != 2:
        raise NcnnlikeError("layer %s: input blob '%s' must be 2-D (T, size), got shape %s"
                            % (layer.name, layer.bottoms[0], tuple(ctx.in_shape(layer))))
    if shape[1] != d.size:
        raise NcnnlikeError("layer %s: input width %d does not match the weights' input size %d"
                            % (layer.name, shape[1], d.size))
    return ctx.op("Transpose", [x], perm=[1, 0, 2]), shape[0]


def state_inputs(ctx, layer, d, kind):
    """Initial states as (D, N, n) tensors from the extra bottoms, or None (zeros)."""
    if len(layer.bottoms) == 1:
        return None
    states = []
    for i, n in enumerate(state_sizes(d, kind)):
        shape = ctx.in_shape(layer, i + 1)
        if int(np.prod(shape)) != d.directions * n:
            raise NcnnlikeError("layer %s: state blob '%s' has %d values, expected %d"
                                % (layer.name, layer.bottoms[i + 1], int(np.prod(shape)), d.directions * n))
        s = ctx.op("Reshape", [ctx.bottom(layer, i + 1), ctx.ints([0, d.directions, n])])
        states.append(ctx.op("Transpose", [s], perm=[1, 0, 2]))
    return states


def state_sizes(d, kind):
    """Length of each state per direction: hidden (num_output) [, cell (hidden_size)]."""
    return [d.num_output, d.hidden][:kind.states]


def bind_outputs(ctx, layer, d, kind, y, states, T):
    """Bind y (N, T, D*num_output) and, when the layer has state tops, states (D, N, n) each.
    A state top keeps the shape of its state bottom (ncnn hands the cloned Mat on), else (D, n)."""
    ctx.top(layer, 0, y, (T, d.directions * d.num_output))
    if len(layer.tops) == 1:
        return
    for i, n in enumerate(state_sizes(d, kind)):
        shape = ctx.in_shape(layer, i + 1) if len(layer.bottoms) > 1 else (d.directions, n)
        s = ctx.op("Transpose", [states[i]], perm=[1, 0, 2])
        s = ctx.op("Reshape", [s, ctx.ints([0] + list(shape))])
        ctx.top(layer, i + 1, s, shape)


def lower_native(ctx, layer, kind, dws, d, x, init, direction):
    """The native ONNX op: W, R, B from kind.onnx_weights; returns y (N, T, D*n) and states (D, N, n)."""
    w, r, b = (np.stack(parts) for parts in zip(*(kind.onnx_weights(dw) for dw in dws)))
    inputs = [x, ctx.const(w, layer.name + "_W"), ctx.const(r, layer.name + "_R"), ctx.const(b, layer.name + "_B")]
    if init:
        inputs += [""] + init   # no sequence_lens
    attrs = {"hidden_size": d.hidden, "direction": ("forward", "reverse", "bidirectional")[direction]}
    attrs.update(kind.onnx_attrs)
    outs = ctx.op(kind.name, inputs, n_out=1 + kind.states, **attrs)
    y = ctx.op("Transpose", [outs[0]], perm=[2, 0, 1, 3])
    y = ctx.op("Reshape", [y, ctx.ints([0, 0, -1])])
    return y, outs[1:]


def lower_recurrent(layer, p, ctx, kind):
    """Lower one RNN / LSTM / GRU layer: the native ONNX op, or the Scan (LSTM projection; int8).

    int8 weights with ctx.int8 (use_int8_inference) run ncnn's exact int8 arithmetic. Without it they
    are dequantized (value / row scale) and run in float: a float view of the int8 model, which ncnn
    itself does not offer (its recurrent layers always run int8 when int8_scale_term is set)."""
    check_blobs(layer, kind)
    d = dims(kind, p, "layer %s (%s)" % (layer.name, kind.name))
    int8 = p.int8_scale_term != 0
    dws = direction_weights(layer, kind, d, int8)
    x, T = sequence_input(ctx, layer, d)
    init = state_inputs(ctx, layer, d, kind)
    if (int8 and ctx.int8) or d.hidden != d.num_output:
        y, states = lower_scan(ctx, layer, kind, dws if ctx.int8 else [w.dequantized() for w in dws],
                               state_sizes(d, kind), x, init, p.direction)
    else:
        y, states = lower_native(ctx, layer, kind, [w.dequantized() for w in dws], d, x, init, p.direction)
    bind_outputs(ctx, layer, d, kind, y, states, T)
