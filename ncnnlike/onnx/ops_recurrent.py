"""ONNX RNN / LSTM / GRU -> ncnn RNN / LSTM / GRU (spec 3 "RNN / LSTM / GRU").

ONNX (layout 0, batch 1 as exporters emit): X (T, 1, size), Y (T, D, 1, H), Y_h / Y_c (D, 1, H).
ncnn: input (T, size), output (T, D*H) with forward then reverse along w, states (D, H). So the
ncnn blob of Y is a view of ONNX's Y without the batch axis (batch axis 2; layout 1: axis 0), and
the usual glue after it (Transpose / Squeeze / Reshape) is handled by those ops' converters.
Gate order and bias layout changes live in the layer modules (from_onnx). Only what ncnn computes
is accepted: default activations, no clip, no peepholes, LSTM input_forget=0, GRU
linear_before_reset=1 (as PyTorch exports), sequence_lens absent or all equal to T.
"""
import numpy as np

from ncnnlike.layers import gru, lstm, rnn
from ncnnlike.onnx.importer import converter, shape_params

MODULES = {"RNN": rnn, "LSTM": lstm, "GRU": gru}
DEFAULT_ACTIVATIONS = {"RNN": ["tanh"], "LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}
DIRECTIONS = {"forward": 0, "reverse": 1, "bidirectional": 2}


def _check_attrs(ctx, node, D):
    """Reject the ONNX features ncnn's recurrent layers do not have."""
    a = ctx.attrs(node)
    kind = node.op_type
    acts = [s.lower() for s in a.get("activations", [])]
    if acts and acts != DEFAULT_ACTIVATIONS[kind] * D:
        ctx.fail("activations %s are not supported; ncnn computes %s" % (a["activations"], DEFAULT_ACTIVATIONS[kind]))
    if "clip" in a:
        ctx.fail("clip is not supported by ncnn's %s" % kind)
    if kind == "LSTM" and a.get("input_forget", 0):
        ctx.fail("input_forget=1 is not supported by ncnn's LSTM")
    if kind == "GRU" and a.get("linear_before_reset", 0) != 1:
        ctx.fail("linear_before_reset=0 has no ncnn equivalent: ncnn's GRU applies the reset gate after "
                 "the recurrent product (linear_before_reset=1, as PyTorch exports)")


def _check_inputs(ctx, node, T):
    """sequence_lens must be absent or all T; LSTM peepholes absent or zero."""
    if ctx.has_input(node, 4):
        lens = ctx.const_input(node, 4)
        if np.any(lens != T):
            ctx.fail("sequence_lens %s differ from the sequence length %d; ncnn runs whole sequences"
                     % (lens.ravel().tolist(), T))
    if node.op_type == "LSTM" and ctx.has_input(node, 7) and np.any(ctx.const_input(node, 7) != 0):
        ctx.fail("peephole weights (input P) are not supported by ncnn's LSTM")


def _sequence(ctx, node, layout):
    """(T, size) of input X, checking batch 1."""
    shape = ctx.shape(node.input[0])
    if len(shape) != 3:
        ctx.fail("input X must be 3-D, got shape %s" % list(shape))
    T, batch = (shape[0], shape[1]) if layout == 0 else (shape[1], shape[0])
    if batch != 1:
        ctx.fail("input X has batch %d; ncnn runs one sequence (batch 1)" % batch)
    return T, shape[2]


def _state_bottoms(ctx, node, kind, D, hidden):
    """ncnn blobs of the initial states (D, H), or [] when absent or all zero (ncnn's default)."""
    slots = [5, 6] if kind == "LSTM" else [5]
    given = [i for i in slots if ctx.has_input(node, i)]
    if all(ctx.const(node.input[i]) is not None and not np.any(ctx.const(node.input[i])) for i in given):
        return []
    bottoms = []
    for i in slots:
        if ctx.has_input(node, i):
            bottoms.append(ctx.blob(node.input[i], (D, hidden)))
            continue
        top = ctx.fresh(node.name + "_zero_state")
        ctx.add("MemoryData", [], [top], shape_params((D, hidden)), [np.zeros((D, hidden), np.float32)],
                shapes=[(D, hidden)], name=top)
        bottoms.append(ctx.actual(top)[0])
    return bottoms


@converter("RNN", "LSTM", "GRU")
def recurrent(ctx, node):
    """One ONNX recurrent node -> one ncnn layer with the same name; Y_h / Y_c become state tops."""
    kind = node.op_type
    module = MODULES[kind]
    a = ctx.attrs(node)
    layout = int(a.get("layout", 0))
    direction = DIRECTIONS.get(a.get("direction", "forward"))
    if direction is None:
        ctx.fail("direction '%s' is not one of %s" % (a["direction"], sorted(DIRECTIONS)))
    D = 2 if direction == 2 else 1
    W, R = ctx.const_input(node, 1).astype(np.float32), ctx.const_input(node, 2).astype(np.float32)
    if W.ndim != 3 or R.ndim != 3 or W.shape[0] != D or R.shape[:2] != W.shape[:2]:
        ctx.fail("weights W %s and R %s do not fit direction '%s'" % (list(W.shape), list(R.shape), a.get("direction", "forward")))
    hidden = R.shape[2]
    B = ctx.const_input(node, 3, np.zeros((D, 2 * W.shape[1]), np.float32)).astype(np.float32)
    _check_attrs(ctx, node, D)
    T, size = _sequence(ctx, node, layout)
    _check_inputs(ctx, node, T)
    parts = [module.from_onnx(W[d], R[d], B[d]) for d in range(D)]
    weights = [np.stack([p[k] for p in parts]) for k in range(3)]
    params = {0: hidden, 1: int(W.size), 2: direction}
    if kind == "LSTM":
        params[3] = hidden
    bottoms = [ctx.blob(node.input[0], (T, size))] + _state_bottoms(ctx, node, kind, D, hidden)
    _add_layer(ctx, node, kind, params, weights, bottoms, T, D, hidden, layout)


def _add_layer(ctx, node, kind, params, weights, bottoms, T, D, hidden, layout):
    """Add the layer; tops: Y, plus the states when ONNX uses Y_h or Y_c (ncnn allows 1 or all)."""
    n_states = 2 if kind == "LSTM" else 1
    outs = list(node.output) + [""] * (1 + n_states - len(node.output))
    with_states = any(outs[1:1 + n_states])
    tops = [outs[0] or ctx.fresh(node.name + "_y")]
    if with_states:
        tops += [outs[1 + i] or ctx.fresh(node.name + "_state") for i in range(n_states)]
    shapes = [(T, D * hidden)] + [(D, hidden)] * (len(tops) - 1)
    ctx.add(kind, bottoms, tops, params, weights, shapes=shapes)
    for i, top in enumerate(tops):
        ctx.set_batch_axis(top, (2 if i == 0 else 1) if layout == 0 else 0)
