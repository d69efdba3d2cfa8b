"""Calibration takes blobs out (pass 2) and reduces them to their min and max (pass 1) in
onnxruntime's blocked layout (runtime/reorders.py): each sample's values are the same, in another
order, so histograms, zero counts, minima and maxima do not change; the edits of the saved model
remove exactly the reorders that only feed outputs, or only per-sample min/max, and keep padded ones."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, random_benchmark
from ncnnlike.io.model import load_model
from ncnnlike.quant.calibrate import extrema_probe, measured_blobs
from ncnnlike.runtime import Net, reorders

LITE0 = os.path.join(REFERENCE, "lite0", "lite0-opt")


def _blobs_out(graph, inputs, any_order):
    """({blob: sorted values of each sample}, {blob: array as it came}, the session's output names)."""
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    n = len(next(iter(inputs.values())))
    first = net.run(inputs, blobs)                              # the shapes, in ncnn order
    out = {b: np.empty_like(v) for b, v in first.items()}
    got = net.run(inputs, blobs, out=out, any_order=any_order)
    record = next(r for k, r in net._sessions.items() if k[-1] == any_order and k[-2] is False)
    return {b: np.sort(v.reshape(n, -1), axis=1) for b, v in got.items()}, got, list(record.names)


def _edited(model, kind):
    """(the edited model's bytes, reorders removed)."""
    pieces, removed = reorders.edited_pieces(model, kind)
    return b"".join(pieces), removed


def _inputs(graph, shape, count, seed=0):
    return {graph.input_names()[0]: np.random.default_rng(seed).uniform(-1, 1, (count,) + shape).astype(np.float32)}


def _check(graph, inputs):
    plain, raw_plain, names_plain = _blobs_out(graph, inputs, False)
    blocked, raw_blocked, names_blocked = _blobs_out(graph, inputs, True)
    for blob in plain:
        assert np.array_equal(plain[blob], blocked[blob]), blob
    moved = [b for b in plain if not np.array_equal(raw_plain[b], raw_blocked[b])]
    return moved, names_plain, names_blocked


def test_lite0_blobs_in_any_order_are_the_same_values_and_most_come_blocked():
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    moved, plain, blocked = _check(graph, _inputs(graph, (3, 224, 224), 2))
    assert len(moved) >= 40 and sum(a != b for a, b in zip(plain, blocked)) == len(moved)


@pytest.mark.parametrize("name", ["mobilenet_v2", "shufflenet_v2", "yolo-fastest-1.1"])
def test_benchmark_networks_blobs_in_any_order_are_the_same_values(tmp_path, name):
    graph, shape = random_benchmark(name, tmp_path)
    _check(graph, _inputs(graph, shape, 2, seed=1))


def test_the_edit_removes_only_reorders_that_only_feed_outputs():
    """A hand-made graph: a blocked tensor reordered for an output (removed), one with 24 channels
    (padded blocks: kept), one whose reorder also feeds a node (kept)."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper
    nchwc = "com.microsoft.nchwc"
    nodes = [helper.make_node("ReorderOutput", ["a"], ["out_a"], domain=nchwc, channels=32),
             helper.make_node("ReorderOutput", ["b"], ["out_b"], domain=nchwc, channels=24),
             helper.make_node("ReorderOutput", ["c"], ["out_c"], domain=nchwc, channels=16),
             helper.make_node("Relu", ["out_c"], ["r"])]
    inputs = [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, [1, 32, 4, 4]) for x in "abc"]
    outputs = [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, [1, 32, 4, 4]) for x in
               ("out_a", "out_b", "out_c", "r")]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs))
    edited, removed = _edited(model.SerializeToString(), "outputs")
    back = onnx.load_from_string(edited)
    assert removed == 1
    assert [o.name for o in back.graph.output] == ["a", "out_b", "out_c", "r"]
    assert [n.output[0] for n in back.graph.node] == ["out_b", "out_c", "r"]
    assert back.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert back.opset_import == model.opset_import and back.graph.input == model.graph.input


def test_outputs_named_in_keep_keep_their_reorders():
    onnx = pytest.importorskip("onnx")
    from onnx import helper
    nchwc = "com.microsoft.nchwc"
    nodes = [helper.make_node("ReorderOutput", [x], ["out_" + x], domain=nchwc, channels=32) for x in "ab"]
    inputs = [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, [1, 32, 4, 4]) for x in "ab"]
    outputs = [helper.make_tensor_value_info("out_" + x, onnx.TensorProto.FLOAT, [1, 32, 4, 4]) for x in "ab"]
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs)).SerializeToString()
    pieces, removed = reorders.edited_pieces(model, "outputs", keep=["out_b"])
    back = onnx.load_from_string(b"".join(pieces))
    assert removed == 1 and [o.name for o in back.graph.output] == ["a", "out_b"]


def test_lite0_outputs_outside_any_order_come_in_order_and_prepare_builds_their_session():
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    inputs = _inputs(graph, (3, 224, 224), 2)
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    plain = net.run(inputs, blobs)
    ordered, loose = blobs[:3] + blobs[-2:], blobs[3:-2]
    net.prepare({"in0": (3, 224, 224)}, blobs, out=True, any_order=loose)
    sessions = len(net._sessions)
    got = net.run(inputs, blobs, out={b: np.empty_like(v) for b, v in plain.items()}, any_order=loose)
    assert len(net._sessions) == sessions
    assert all(np.array_equal(got[b], plain[b]) for b in ordered)
    moved = [b for b in loose if not np.array_equal(got[b], plain[b])]
    assert len(moved) >= 35
    for b in loose:
        assert np.array_equal(np.sort(got[b].reshape(2, -1)), np.sort(plain[b].reshape(2, -1))), b


def _pass1(graph, inputs, edit, monkeypatch):
    """({blob: (mins, maxs)}, reorders the probe edit removed) of pass 1 in a reloaded session, with
    the probe edit or without it."""
    removed, real = [], reorders.edited_pieces

    def counted(model, kind, keep=()):
        pieces, found = real(model, kind, keep)
        removed.append(found)
        return (pieces if edit else [model]), found
    monkeypatch.setattr(reorders, "edited_pieces", counted)
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    outputs = net.run(inputs, blobs, probe=extrema_probe)
    return {b: tuple(np.asarray(v) for v in outputs[b]) for b in blobs}, removed


def _same_extrema(graph, inputs, monkeypatch):
    edited, removed = _pass1(graph, inputs, True, monkeypatch)
    plain, _ = _pass1(graph, inputs, False, monkeypatch)
    for blob in plain:
        for x, y in zip(edited[blob], plain[blob]):
            assert np.array_equal(x, y), blob
    return removed[0]


def test_lite0_pass1_reduces_most_blobs_blocked_to_the_same_extrema(monkeypatch):
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    assert _same_extrema(graph, _inputs(graph, (3, 224, 224), 2), monkeypatch) >= 40


@pytest.mark.parametrize("name", ["mobilenet_ssd", "shufflenet_v2", "yolo-fastest-1.1"])
def test_benchmark_networks_pass1_blocked_gives_the_same_extrema(tmp_path, monkeypatch, name):
    graph, shape = random_benchmark(name, tmp_path)
    _same_extrema(graph, _inputs(graph, shape, 2, seed=2), monkeypatch)


def test_the_probe_edit_removes_only_reorders_before_per_sample_min_and_max():
    """A hand-made graph: blocked tensors reordered, flattened per sample and reduced to their min
    and max (removed); the same with 24 channels (padded: kept), flattened from axis 2 (kept), also
    fed to a ReduceSum (kept), reduced over another axis (kept), and the reorder also an output (kept)."""
    onnx = pytest.importorskip("onnx")
    from onnx import helper
    nchwc = "com.microsoft.nchwc"
    nodes, outputs = [], []

    def case(name, channels=32, axis=1, reduce_axes=(1,), extra=None, output=False):
        nodes.append(helper.make_node("ReorderOutput", [name], ["r_" + name], domain=nchwc, channels=channels))
        nodes.append(helper.make_node("Flatten", ["r_" + name], ["f_" + name], axis=axis))
        for op in ("ReduceMin", "ReduceMax"):
            nodes.append(helper.make_node(op, ["f_" + name], [op + "_" + name], axes=list(reduce_axes), keepdims=0))
            outputs.append(op + "_" + name)
        if extra:
            nodes.append(helper.make_node(extra, ["f_" + name], ["x_" + name], axes=[1], keepdims=0))
            outputs.append("x_" + name)
        if output:
            outputs.append("r_" + name)
    case("a")
    case("b", channels=24)
    case("c", axis=2)
    case("d", extra="ReduceSum")
    case("e", reduce_axes=(0,))
    case("f", output=True)
    case("g", channels=16)
    inputs = [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, [1, 32, 4, 4]) for x in "abcdefg"]
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, None) for x in outputs])
    model = helper.make_model(graph)
    edited, removed = _edited(model.SerializeToString(), "probes")
    back = onnx.load_from_string(edited)
    assert removed == 2
    assert [n.output[0] for n in back.graph.node if n.op_type == "ReorderOutput"] == \
        ["r_" + x for x in "bcdef"]
    flatten_inputs = {n.output[0]: n.input[0] for n in back.graph.node if n.op_type == "Flatten"}
    assert flatten_inputs == {"f_" + x: (x if x in "ag" else "r_" + x) for x in "abcdefg"}
    assert back.graph.output == model.graph.output and back.graph.input == model.graph.input
    assert [n.op_type for n in back.graph.node if n.op_type != "ReorderOutput"] == \
        [n.op_type for n in model.graph.node if n.op_type != "ReorderOutput"]


def test_a_damaged_model_is_an_error_not_a_crash():
    from ncnnlike.errors import NcnnlikeError
    for data in (b"\x3a\xff", b"\x3a\x05ab", b"\x0b", b"\x3a\x02\x0a\x80"):
        with pytest.raises(NcnnlikeError):
            _edited(data, "outputs")
        with pytest.raises(NcnnlikeError):
            _edited(data, "probes")
