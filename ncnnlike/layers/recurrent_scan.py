"""Scan lowering of ncnn's RNN / LSTM / GRU recurrence: one ONNX Scan per direction, the cell
written in ONNX ops. Used where the native ONNX op cannot express ncnn: LSTM projection
(weight_hr) and int8 weights, for which ncnn quantizes activations dynamically at run time
(spec 3; src/layer/{rnn,lstm,gru}.cpp *_int8):

  q = clamp(round_half_away(v * s), -127, 127), s = 127 / absmax(v)  per input row and per hidden state
  gate = bias + acc_x * (1/s_x * 1/s_xc[row]) + acc_h * (1/s_h * 1/s_hc[row])

An all-zero row contributes 0 (ncnn: inf scale for x, scale 1 for h; both give a zero term).
Integer accumulators are float32 MatMuls of integer values: exact while |acc| < 2^24.
"""
import numpy as np
import onnx
from onnx import helper


class Body:
    """Collects the nodes of a Scan body; constants are outer-graph initializers (outer scope)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.nodes = []

    def op(self, op_type, inputs, n_out=1, **attrs):
        outs = [self.ctx.fresh(op_type) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.ctx.fresh("n_" + op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint="const", dtype=None):
        return self.ctx.const(array, hint, dtype)

    def ints(self, values, hint="shape"):
        return self.ctx.ints(values, hint)


def quantize_rows(g, v):
    """ncnn's dynamic int8 quantization of each row (last axis) of `v`: (q as float, 1/scale)."""
    absmax = g.op("ReduceMax", [g.op("Abs", [v])], axes=[-1], keepdims=1)
    scale = g.op("Div", [g.const(np.float32(127.0)), absmax])
    finite = g.op("Where", [g.op("IsInf", [scale]), g.const(np.float32(0.0)), scale])
    scaled = g.op("Mul", [v, finite])
    # round half away from zero in float32, like float2int8 (spec 7.2)
    rounded = g.op("Mul", [g.op("Sign", [scaled]),
                           g.op("Floor", [g.op("Add", [g.op("Abs", [scaled]), g.const(np.float32(0.5))])])])
    q = g.op("Clip", [rounded, g.const(np.float32(-127.0)), g.const(np.float32(127.0))])
    return q, g.op("Reciprocal", [scale])


def matmul_term(g, v, weight, scales):
    """v @ weight.T: float, or (scales given) ncnn's int8 product acc * (1/s_v * 1/s_w[row])."""
    w_t = g.const(np.ascontiguousarray(weight.T), "w")
    if scales is None:
        return g.op("MatMul", [v, w_t])
    q, descale = quantize_rows(g, v)
    acc = g.op("MatMul", [q, w_t])
    descale_w = (np.float32(1.0) / scales.astype(np.float32)).astype(np.float32)
    return g.op("Mul", [acc, g.op("Mul", [descale, g.const(descale_w, "descale")])])


def zeros_state(ctx, x, n):
    """A zero state (N, n), N taken from x (T, N, size)."""
    batch = ctx.op("Shape", [x], start=1, end=2)
    shape = ctx.op("Concat", [batch, ctx.ints([n])], axis=0)
    return ctx.op("ConstantOfShape", [shape], value=helper.make_tensor("zero", onnx.TensorProto.FLOAT, [1], [0.0]))


def scan_direction(ctx, kind, dw, xg, states0, sizes, reverse):
    """One direction: Scan over xg (T, N, rows); returns (y (T, N, num_output), final states)."""
    b = Body(ctx)
    state_in = [ctx.fresh("state") for _ in sizes]
    x_t = ctx.fresh("xg_t")
    hg = matmul_term(b, state_in[0], dw.hc, dw.hc_scales)
    bias_h = kind.split_bias(dw)[1]
    if bias_h is not None:
        hg = b.op("Add", [hg, b.const(bias_h, "bias_h")])
    new_states = kind.cell(b, x_t, hg, state_in, dw)
    y = b.op("Identity", [new_states[0]])
    rows = dw.xc.shape[0]
    graph = helper.make_graph(
        b.nodes, ctx.fresh("body"),
        [helper.make_tensor_value_info(s, onnx.TensorProto.FLOAT, ["N", n]) for s, n in zip(state_in, sizes)]
        + [helper.make_tensor_value_info(x_t, onnx.TensorProto.FLOAT, ["N", rows])],
        [helper.make_tensor_value_info(s, onnx.TensorProto.FLOAT, ["N", n]) for s, n in zip(new_states, sizes)]
        + [helper.make_tensor_value_info(y, onnx.TensorProto.FLOAT, ["N", sizes[0]])])
    outs = ctx.op("Scan", list(states0) + [xg], n_out=len(sizes) + 1, body=graph, num_scan_inputs=1,
                  scan_input_directions=[int(reverse)], scan_output_directions=[int(reverse)])
    return outs[-1], outs[:-1]


def lower_scan(ctx, layer, kind, dws, sizes, x, init, direction):
    """All directions (state lengths `sizes`); returns y (N, T, D*num_output) and states [(D, N, n)]."""
    ys, finals = [], []
    for i, dw in enumerate(dws):
        xg = ctx.op("Add", [matmul_term(ctx, x, dw.xc, dw.xc_scales),
                            ctx.const(kind.split_bias(dw)[0], layer.name + "_bias_x")])
        if init:
            states0 = [ctx.op("Gather", [s, ctx.ints(i, "dir")], axis=0) for s in init]
        else:
            states0 = [zeros_state(ctx, x, n) for n in sizes]
        y, fin = scan_direction(ctx, kind, dw, xg, states0, sizes, direction == 1 or i == 1)
        ys.append(y)
        finals.append(fin)
    y = ys[0] if len(ys) == 1 else ctx.op("Concat", ys, axis=2)
    y = ctx.op("Transpose", [y], perm=[1, 0, 2])
    states = []
    for k in range(len(sizes)):
        per_dir = [ctx.op("Unsqueeze", [fin[k], ctx.ints([0])]) for fin in finals]
        states.append(per_dir[0] if len(per_dir) == 1 else ctx.op("Concat", per_dir, axis=0))
    return y, states
