"""ONNX RNN / LSTM / GRU -> ncnn layers: our runtime vs onnxruntime on the source ONNX, our written
files in pip ncnn, PyTorch-style export glue around Y, and clear errors for what ncnn lacks."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import ncnn_extract, ncnn_net
from layers.recurrent_ref import cosine
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import save_model
from ncnnlike.onnx import import_onnx
from ncnnlike.runtime import Net

T, SIZE, HIDDEN = 5, 8, 16
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
GRU_ATTRS = {"linear_before_reset": 1}


def weights(kind, D, rng, with_states=False):
    """Random W, R, B (and initial states) initializers of an ONNX recurrent node."""
    rows = GATES[kind] * HIDDEN
    inits = {"W": rng.uniform(-0.4, 0.4, (D, rows, SIZE)), "R": rng.uniform(-0.4, 0.4, (D, rows, HIDDEN)),
             "B": rng.uniform(-0.4, 0.4, (D, 2 * rows))}
    if with_states:
        inits["h0"] = rng.uniform(-1, 1, (D, 1, HIDDEN))
        if kind == "LSTM":
            inits["c0"] = rng.uniform(-1, 1, (D, 1, HIDDEN))
    return {k: numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()}


def model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                                                   for o in outputs], list(inits.values()))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def recurrent_node(kind, direction, x, outputs, inits, layout=0, **attrs):
    states = [n for n in ("h0", "c0") if n in inits]
    inputs = [x, "W", "R", "B"] + ([""] + states if states else [])
    if kind == "GRU":
        attrs = dict(GRU_ATTRS, **attrs)
    return helper.make_node(kind, inputs, outputs, name="rnn0", hidden_size=HIDDEN, direction=direction,
                            layout=layout, **attrs)


def state_outputs(kind):
    return ["Y_h", "Y_c"] if kind == "LSTM" else ["Y_h"]


def run_ort(m, feeds):
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


def run_ours(graph, feeds, outputs):
    net = Net.from_graph(graph)
    net.opt.num_threads = 1
    return net.run(feeds, outputs)


def run_pip_ncnn(graph, x, outputs, tmp_path):
    param, binary = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binary)
    return ncnn_extract(ncnn_net(param, binary), {"x": x}, outputs)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_batch_first_node_with_initial_states_matches_onnxruntime(kind, direction):
    """layout=1 takes X (1, T, size) straight from the graph input; onnxruntime runs the layout=0 twin."""
    D = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(len(kind) * 7 + D)
    inits = weights(kind, D, rng, with_states=True)
    outs = ["Y"] + state_outputs(kind)
    x = rng.standard_normal((1, T, SIZE)).astype(np.float32)
    twin = model([recurrent_node(kind, direction, "x", outs, inits)],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, 1, SIZE])], outs, inits)
    want = run_ort(twin, {"x": x.transpose(1, 0, 2)})
    # layout 1: initial states are (1, D, H); the twin's are (D, 1, H)
    inits1 = {k: numpy_helper.from_array(numpy_helper.to_array(v).transpose(1, 0, 2).copy(), k) if k in ("h0", "c0")
              else v for k, v in inits.items()}
    m = model([recurrent_node(kind, direction, "x", outs, inits1, layout=1)],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, SIZE])], outs, inits1)
    graph = import_onnx(m)
    rnn = [layer for layer in graph if layer.type == kind][0]
    assert len(rnn.bottoms) == 1 + len(state_outputs(kind)) and rnn.params[2] == ["forward", "reverse", "bidirectional"].index(direction)
    got = run_ours(graph, {"x": x}, outs)
    np.testing.assert_allclose(got["Y"][0], want["Y"].reshape(T, D * HIDDEN), atol=1e-4)
    for name in state_outputs(kind):
        np.testing.assert_allclose(got[name][0], want[name].reshape(D, HIDDEN), atol=1e-4)


def test_single_step_node_on_graph_input_matches_onnxruntime_and_pip_ncnn(tmp_path):
    """T=1 in layout 0: X (1, 1, size) is a graph input; Y (1, D, 1, H) a graph output."""
    rng = np.random.default_rng(3)
    inits = weights("LSTM", 2, rng, with_states=True)
    m = model([recurrent_node("LSTM", "bidirectional", "x", ["Y"], inits)],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, SIZE])], ["Y"], inits)
    x = rng.standard_normal((1, 1, SIZE)).astype(np.float32)
    want = run_ort(m, {"x": x})["Y"].reshape(1, 2 * HIDDEN)
    graph = import_onnx(m)
    np.testing.assert_allclose(run_ours(graph, {"x": x}, ["Y"])["Y"][0], want, atol=1e-4)
    theirs = run_pip_ncnn(graph, x[0], ["Y"], tmp_path)["Y"]
    assert cosine(theirs, want) >= 0.99999


def test_gru_without_linear_before_reset_is_a_clear_error():
    inits = weights("GRU", 1, np.random.default_rng(0))
    node = helper.make_node("GRU", ["x", "W", "R", "B"], ["Y"], name="gru0", hidden_size=HIDDEN)
    m = model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, SIZE])], ["Y"], inits)
    with pytest.raises(NcnnlikeError, match="node 'gru0' \\(GRU\\): linear_before_reset=0 has no ncnn equivalent"):
        import_onnx(m)


@pytest.mark.parametrize("attrs,message", [({"clip": 3.0}, "clip is not supported"),
                                           ({"activations": ["Relu"]}, "activations \\['Relu'\\] are not supported")])
def test_rnn_features_ncnn_lacks_are_clear_errors(attrs, message):
    inits = weights("RNN", 1, np.random.default_rng(0))
    m = model([recurrent_node("RNN", "forward", "x", ["Y"], inits, **attrs)],
              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, SIZE])], ["Y"], inits)
    with pytest.raises(NcnnlikeError, match=message):
        import_onnx(m)


def pytorch_style_model(kind, direction, rng):
    """What torch.onnx exports for nn.<kind>(batch_first=True): Transpose -> node -> Squeeze (one
    direction) or Transpose + Reshape (two) -> Transpose; the last hidden state Y_h is an output."""
    D = 2 if direction == "bidirectional" else 1
    inits = weights(kind, D, rng)
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             recurrent_node(kind, direction, "xt", ["Y", "Y_h"], inits)]
    if D == 1:
        inits["axes"] = numpy_helper.from_array(np.array([1], np.int64), "axes")
        nodes.append(helper.make_node("Squeeze", ["Y", "axes"], ["ys"]))
    else:
        inits["shape"] = numpy_helper.from_array(np.array([0, 0, -1], np.int64), "shape")
        nodes += [helper.make_node("Transpose", ["Y"], ["yt"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", ["yt", "shape"], ["ys"])]
    nodes.append(helper.make_node("Transpose", ["ys"], ["y"], perm=[1, 0, 2]))
    return model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, SIZE])], ["y", "Y_h"], inits)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_pytorch_style_export_matches_onnxruntime_and_pip_ncnn(kind, direction, tmp_path):
    D = 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(11 + D)
    m = pytorch_style_model(kind, direction, rng)
    x = rng.standard_normal((1, T, SIZE)).astype(np.float32)
    want = run_ort(m, {"x": x})
    graph = import_onnx(m)
    assert [layer.type for layer in graph].count(kind) == 1
    got = run_ours(graph, {"x": x}, ["y", "Y_h"])
    np.testing.assert_allclose(got["y"][0], want["y"][0], atol=1e-4)
    np.testing.assert_allclose(got["Y_h"][0], want["Y_h"].reshape(D, HIDDEN), atol=1e-4)
    theirs = run_pip_ncnn(graph, x[0], ["y", "Y_h"], tmp_path)
    assert cosine(theirs["y"], want["y"]) >= 0.99999
    assert cosine(theirs["Y_h"], want["Y_h"]) >= 0.99999


def test_stacked_bidirectional_layers_chain_through_the_reshape_glue():
    """nn.LSTM(num_layers=2, bidirectional=True) style: Y -> Transpose(0,2,1,3) -> Reshape(0,0,-1) -> next X."""
    rng = np.random.default_rng(21)
    first = weights("LSTM", 2, rng)
    second = {k + "2": numpy_helper.from_array(rng.uniform(-0.3, 0.3, shape).astype(np.float32), k + "2")
              for k, shape in (("W", (2, 3 * HIDDEN, 2 * HIDDEN)), ("R", (2, 3 * HIDDEN, HIDDEN)), ("B", (2, 6 * HIDDEN)))}
    shape = numpy_helper.from_array(np.array([0, 0, -1], np.int64), "shape")
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             recurrent_node("LSTM", "bidirectional", "xt", ["Y"], first),
             helper.make_node("Transpose", ["Y"], ["yt"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["yt", "shape"], ["x2"]),
             helper.make_node("GRU", ["x2", "W2", "R2", "B2"], ["Z"], hidden_size=HIDDEN, direction="bidirectional",
                              linear_before_reset=1)]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, SIZE])], ["Z"],
              dict(first, shape=shape, **second))
    x = rng.standard_normal((1, T, SIZE)).astype(np.float32)
    want = run_ort(m, {"x": x})["Z"].reshape(T, 2 * HIDDEN)
    graph = import_onnx(m)
    assert [layer.type for layer in graph if layer.type in ("LSTM", "GRU")] == ["LSTM", "GRU"]
    np.testing.assert_allclose(run_ours(graph, {"x": x}, ["Z"])["Z"][0], want, atol=1e-4)


def _gru_with(inputs, inits):
    node = helper.make_node("GRU", inputs, ["Y"], name="gru0", hidden_size=HIDDEN, linear_before_reset=1)
    return model([helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]), node],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, T, SIZE])], ["Y"], inits)


def test_zero_initial_state_and_full_sequence_lens_add_nothing():
    inits = weights("GRU", 1, np.random.default_rng(5))
    inits["lens"] = numpy_helper.from_array(np.array([T], np.int32), "lens")
    inits["h0"] = numpy_helper.from_array(np.zeros((1, 1, HIDDEN), np.float32), "h0")
    graph = import_onnx(_gru_with(["xt", "W", "R", "B", "lens", "h0"], inits))
    gru = [layer for layer in graph if layer.type == "GRU"][0]
    assert len(gru.bottoms) == 1 and [layer.type for layer in graph] == ["Input", "GRU"]


def test_shorter_sequence_lens_is_a_clear_error():
    inits = weights("GRU", 1, np.random.default_rng(5))
    inits["lens"] = numpy_helper.from_array(np.array([T - 2], np.int32), "lens")
    with pytest.raises(NcnnlikeError, match="node 'gru0' \\(GRU\\): sequence_lens \\[3\\] differ from the sequence length 5"):
        import_onnx(_gru_with(["xt", "W", "R", "B", "lens"], inits))
