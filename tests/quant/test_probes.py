"""Calibration's pass 2 binned inside the graph (quant/probes.py, the op ncnnlike.Histogram of
layers/_probes.h): the same bins as stats.Histogram, whole statistics equal to taking the
blobs out, one clear error for nan, and the blocked layout's reorders left out. Skipped where the
custom-op library was not built."""
import os

import numpy as np
import pytest

from helpers import BIN_EDGE_ABSMAX, REFERENCE, bin_edge_values, ncnn_bins, random_benchmark
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import load_model
from ncnnlike.layers import dw_vnni
from ncnnlike.quant import calibrate, probes
from ncnnlike.quant.calibrate import collect_absmax, collect_histograms, measured_blobs
from ncnnlike.quant.stats import Histogram
from ncnnlike.runtime import Net, reorders

LITE0 = os.path.join(REFERENCE, "lite0", "lite0-opt")
pytestmark = pytest.mark.skipif(dw_vnni.library_file() is None, reason="the custom-op library was not built")


def _session(absmax=None):
    """A session of one Histogram op over `absmax`, or without it of one Extrema op."""
    import onnxruntime as ort
    from onnx import TensorProto, helper
    if absmax is None:
        node = helper.make_node("Extrema", ["x"], ["lo", "hi"], domain="ncnnlike")
        outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("lo", "hi")]
    else:
        node = helper.make_node("Histogram", ["x"], ["h"], domain="ncnnlike", absmax=float(absmax))
        outputs = [helper.make_tensor_value_info("h", TensorProto.INT64, None)]
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ncnnlike", 1)])
    so = ort.SessionOptions()
    dw_vnni.register(so)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("absmax", BIN_EDGE_ABSMAX + [6.0])
def test_the_op_bins_as_ncnns_float32_formula_on_bin_edges(absmax):
    absmax = np.float32(absmax)
    v = bin_edge_values(absmax, 7)
    out = _session(absmax).run(None, {"x": v.reshape(2, -1)})[0]
    assert out.shape == (2050,) and out[2049] == 0
    expected, zeros = ncnn_bins(v, absmax)
    expected[0] += zeros
    assert np.array_equal(out[:2048], expected) and out[2048] == zeros
    ours = Histogram(absmax)
    probes.HistogramProbe({"b": absmax}).add_to(ours, "b", [out], v.size)
    reference = Histogram(absmax)
    reference.update(v[None])
    assert ours == reference


def test_a_nan_and_a_bad_absmax_are_refused_in_one_line():
    x = np.ones((1, 100), np.float32)
    x[0, 7] = np.nan
    out = _session(1.0).run(None, {"x": x})[0]
    assert out[2049] == 1 and not out[:2049].any()
    probe = probes.HistogramProbe({"b": 1.0})
    with pytest.raises(NcnnlikeError, match="nan"):
        probe.add_to(Histogram(1.0), "b", [out], 100)
    for bad in (-1.0, float("inf")):
        empty = _session(bad).run(None, {"x": x})[0]
        assert empty.shape == (0,)
        with pytest.raises(NcnnlikeError, match="gave no counts"):
            probe.add_to(Histogram(1.0), "b", [empty], 100)


def test_extrema_are_each_samples_min_and_max_and_nan_where_it_holds_one():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 5, (4, 100003)).astype(np.float32)
    x[1, 5], x[3, -1] = np.nan, -np.inf
    lo, hi = _session().run(None, {"x": x})
    ok = [0, 2, 3]
    np.testing.assert_array_equal(lo[ok], x[ok].min(1))
    np.testing.assert_array_equal(hi[ok], x[ok].max(1))
    assert np.isnan(lo[1]) and np.isnan(hi[1]) and lo[3] == -np.inf
    for bad in (np.ones((2, 0), np.float32), np.ones(5, np.float32), np.ones((1, 2, 3), np.float32)):
        assert [a.shape for a in _session().run(None, {"x": bad})] == [(0,), (0,)]


def test_pass_1_in_our_op_equals_onnxruntimes_reductions(tmp_path, monkeypatch):
    nets = [Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin")),
            Net.from_graph(random_benchmark("mobilenet_ssd", tmp_path)[0])]
    for net, shape in zip(nets, [(3, 224, 224), (3, 300, 300)]):
        net.opt.use_int8_inference = False
        batches = _batches(net.graph, shape, 2, 5)
        results = []
        for flag in ("1", "0"):
            monkeypatch.setenv("NCNNLIKE_CALIB_OPS", flag)
            net.clear()
            results.append(collect_absmax(net, None, None, threads=2, progress=False, batches=batches))
        assert results[0] == results[1]


def test_a_nan_in_pass_1_is_one_clear_error(monkeypatch):
    net = Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin"))
    net.opt.use_int8_inference = False
    batch = _batches(net.graph, (3, 224, 224), 1, 1)
    batch[0][net.graph.input_names()[0]][0, 0, 0, 0] = np.nan
    with pytest.raises(NcnnlikeError, match="non-finite value"):
        collect_absmax(net, None, None, threads=1, progress=False, batches=batch)


def _both_ways(net, batches, monkeypatch):
    """Pass 2 of `batches` binned in the graph, and with the blobs taken out of the whole graph (not in
    segments, whose cut blobs may run other kernels: quant/segments.py)."""
    monkeypatch.setattr(calibrate, "SEGMENT_BYTES", 1 << 40)
    absmax = collect_absmax(net, None, None, threads=2, progress=False, batches=batches)
    results = []
    for flag in ("1", "0"):
        monkeypatch.setenv("NCNNLIKE_CALIB_OPS", flag)
        assert probes.available() == (flag == "1")
        results.append(collect_histograms(net, None, None, absmax, threads=2, progress=False, batches=batches))
    return results


def _batches(graph, shape, count, seed):
    rng = np.random.default_rng(seed)
    return [{graph.input_names()[0]: rng.uniform(-1, 1, (2,) + shape).astype(np.float32)} for _ in range(count)]


def test_lite0_histograms_in_the_graph_equal_the_blobs_taken_out(monkeypatch):
    net = Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin"))
    net.opt.use_int8_inference = False
    in_graph, taken_out = _both_ways(net, _batches(net.graph, (3, 224, 224), 2, 4), monkeypatch)
    assert in_graph == taken_out
    assert all(layer.histogram.total() > 0 for layer in in_graph.values())


@pytest.mark.parametrize("name", ["mobilenet_ssd", "yolo-fastest-1.1"])
def test_benchmark_histograms_in_the_graph_equal_the_blobs_taken_out(tmp_path, monkeypatch, name):
    graph, shape = random_benchmark(name, tmp_path)
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    in_graph, taken_out = _both_ways(net, _batches(graph, shape, 2, 3), monkeypatch)
    assert in_graph == taken_out


def test_the_blocked_layout_reaches_the_op_without_its_reorders(monkeypatch):
    """Lite0's blobs of 16k channels are binned in onnxruntime's blocked layout (runtime/reorders.py),
    with the same counts as the blobs taken out."""
    removed, real = [], reorders.edited_pieces

    def counted(model, kind, keep=()):
        pieces, found = real(model, kind, keep)
        removed.append(found)
        return pieces, found
    monkeypatch.setattr(reorders, "edited_pieces", counted)
    net = Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin"))
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = list(dict.fromkeys(measured_blobs(net.graph).values()))
    probe = probes.HistogramProbe({blob: 8.0 for blob in blobs})
    inputs = {net.graph.input_names()[0]: np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)}
    outputs = net.run(inputs, blobs, probe=probe)
    assert removed and removed[0] >= 40
    whole = net.run(inputs, blobs)
    for blob in blobs:
        ours, reference = Histogram(8.0), Histogram(8.0)
        probe.add_to(ours, blob, outputs[blob], whole[blob].size)
        reference.update(whole[blob])
        assert ours == reference, blob
