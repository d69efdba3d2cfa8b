"""Calibration's pass 2 in segments (quant/segments.py): every measured blob taken out by exactly one
segment, in order; segments chained by the blobs they hand on, which are small; the histograms
the same as from one run of the whole graph."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer, random_benchmark
from ncnnlike.graph import Graph
from ncnnlike.io.model import load_model
from ncnnlike.quant import calibrate
from ncnnlike.quant.calibrate import collect_absmax, collect_histograms, measured_blobs
from ncnnlike.quant.segments import SegmentPlans, plan_segments, run_outputs
from ncnnlike.runtime import Net
from ncnnlike.runtime.lower import lower_shapes

LITE0 = os.path.join(REFERENCE, "lite0", "lite0-opt")


def _plan(graph, shape, max_bytes):
    """(measured blobs, blob shapes, segments) of `graph` for one input of ncnn shape `shape`."""
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    ctx = lower_shapes(graph, {graph.input_names()[0]: shape}, blobs)
    shapes = {blob: ctx.shape(blob) for blob in ctx.blobs()}
    return blobs, shapes, plan_segments(graph, blobs, shapes, max_bytes)


def _check_chain(blobs, segments):
    taken = [blob for segment in segments for blob in segment.outputs]     # by producer, then measured order
    assert sorted(taken) == sorted(blobs) and len(set(taken)) == len(taken)
    assert segments[0].inputs is None and segments[-1].passes == ()
    for before, after in zip(segments, segments[1:]):
        assert before.passes and after.inputs == before.passes


def _nbytes(shapes, blobs):
    return 4 * sum(int(np.prod(shapes[blob])) for blob in blobs)


def test_lite0_is_cut_in_three_where_one_small_blob_crosses():
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    blobs, shapes, segments = _plan(graph, (3, 224, 224), 12 << 20)
    _check_chain(blobs, segments)
    assert len(segments) == 3
    assert max(_nbytes(shapes, s.outputs) for s in segments) < 0.4 * _nbytes(shapes, blobs)
    assert all(len(s.passes) == 1 and _nbytes(shapes, s.passes) < (1 << 20) for s in segments[:-1])


def test_blobs_that_fit_stay_one_segment():
    graph = load_model(LITE0 + ".param", LITE0 + ".bin")
    blobs, _, segments = _plan(graph, (3, 224, 224), 1 << 30)
    assert segments == [(None, tuple(blobs), ())]


def test_run_bytes_are_the_largest_segments_and_none_for_one_segment():
    """What pass 2 cuts its runs by (calibrate._plan): one segment keeps the usual OUTPUT_BYTES."""
    net = Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin"))
    blobs = list(dict.fromkeys(measured_blobs(net.graph).values()))
    inputs = {"in0": np.zeros((1, 3, 224, 224), np.float32)}
    lowered = calibrate._RunShapes(net).lowered
    assert SegmentPlans(net, blobs, 1 << 30, lowered).run_bytes(inputs) is None
    assert SegmentPlans(net, blobs, 1 << 30, lambda inputs: None).run_bytes(inputs) is None     # staged
    _, shapes, segments = _plan(net.graph, (3, 224, 224), 12 << 20)
    largest = max(_nbytes(shapes, run_outputs(s)) for s in segments)
    assert SegmentPlans(net, blobs, 12 << 20, lowered).run_bytes(inputs) == largest < 12 << 20


def test_a_graph_that_reads_a_blob_before_making_it_stays_one_segment():
    """ncnn loads layers in any order; the cuts need the producing order."""
    conv = {0: 4, 1: 1, 6: 16}
    layers = [layer("Input", "in", [], ["x"], {0: 8, 1: 8, 2: 4}),
              layer("Convolution", "c2", ["y"], ["z"], conv, {"weight_data": np.ones(16, np.float32)}),
              layer("Convolution", "c1", ["x"], ["y"], conv, {"weight_data": np.ones(16, np.float32)})]
    graph = Graph(layers)
    shapes = {"x": (4, 8, 8), "y": (4, 8, 8), "z": (4, 8, 8)}
    assert plan_segments(graph, ["y", "x"], shapes, 16) == [(None, ("y", "x"), ())]


def test_a_part_computed_from_no_input_stays_in_one_segment():
    """After a cut that no blob crosses, the next segment would have no input to run from."""
    conv = {0: 4, 1: 1, 6: 16}
    weights = {"weight_data": np.ones(16, np.float32)}
    layers = [layer("Input", "in", [], ["x"], {0: 8, 1: 8, 2: 4}),
              layer("Convolution", "c1", ["x"], ["y"], conv, weights),
              layer("MemoryData", "m", [], ["z"], {0: 8, 1: 8, 2: 4}, {"data": np.ones(256, np.float32)}),
              layer("Convolution", "c2", ["z"], ["w"], conv, weights)]
    shapes = {blob: (4, 8, 8) for blob in "xyzw"}
    assert plan_segments(Graph(layers), ["x", "z"], shapes, 1024) == [(None, ("x", "z"), ())]


def test_a_blob_handed_across_several_cuts_is_binned_once(monkeypatch):
    """x1 is measured (c3's input) but read only after the chain c0-c2: every cut hands it on, and
    only the segment that makes it may bin it."""
    rng = np.random.default_rng(5)

    def c(name, bottom, top, channels=4):
        return layer("Convolution", name, [bottom], [top], {0: 4, 1: 1, 6: 4 * channels},
                     {"weight_data": rng.normal(0, 1, 4 * channels).astype(np.float32)})
    layers = [layer("Input", "in", [], ["x"], {0: 8, 1: 8, 2: 4}), layer("Split", "s", ["x"], ["x0", "x1"]),
              c("c0", "x0", "b"), c("c1", "b", "c"), c("c2", "c", "d"), c("c3", "x1", "g"),
              layer("Concat", "cat", ["d", "g"], ["e"]), c("c4", "e", "f", channels=8)]
    graph = Graph(layers)
    blobs, _, segments = _plan(graph, (4, 8, 8), 2100)
    _check_chain(blobs, segments)
    assert sum("x1" in s.passes for s in segments) >= 2
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    _same_values(*_histograms(net, _batches(graph, (4, 8, 8), 2, 6), monkeypatch, (1 << 40, 2100)))


def _histograms(net, batches, monkeypatch, limits):
    """Pass 2's statistics of `batches` in one run and in segments of SEGMENT_BYTES `limits`, the
    blobs taken out of the graph (the path without the in-graph Histogram op)."""
    monkeypatch.setenv("NCNNLIKE_CALIB_OPS", "0")
    absmax = collect_absmax(net, None, None, threads=2, progress=False, batches=batches)
    results = []
    for limit in limits:
        monkeypatch.setattr(calibrate, "SEGMENT_BYTES", limit)
        results.append(collect_histograms(net, None, None, absmax, threads=2, progress=False, batches=batches))
    return results


def _batches(graph, shape, count, seed):
    rng = np.random.default_rng(seed)
    return [{graph.input_names()[0]: rng.uniform(-1, 1, (2,) + shape).astype(np.float32)} for _ in range(count)]


def _same_values(whole, parts):
    """Every blob binned once either way (the same totals and zeros), and the counts equal up to
    values moved to a neighbouring bin by float32 rounding: a segment whose input is a cut blob may
    run another onnxruntime kernel (values 1 ulp apart, max 7e-7 on yolo-fastest's)."""
    for name, layer in whole.items():
        a, b = layer.histogram, parts[name].histogram
        assert a.total() == b.total() > 0 and a.zeros == b.zeros, name
        diff = a.counts.astype(np.int64) - b.counts.astype(np.int64)
        assert np.abs(diff).sum() <= 2e-3 * a.total(), name
        assert np.abs(np.cumsum(diff)).max() <= np.abs(diff).max(), name    # moved by one bin at most


def test_lite0_in_three_segments_bins_the_same_values(monkeypatch):
    """(Its kl and aciq tables on the 100 golden images stay byte for byte:
    tests/cli/test_model2table.py.)"""
    net = Net.from_graph(load_model(LITE0 + ".param", LITE0 + ".bin"))
    net.opt.use_int8_inference = False
    _same_values(*_histograms(net, _batches(net.graph, (3, 224, 224), 2, 4), monkeypatch, (1 << 40, 12 << 20)))


@pytest.mark.parametrize("name", ["shufflenet_v2", "mobilenet_ssd", "yolo-fastest-1.1"])
def test_histograms_in_segments_count_the_same_values(tmp_path, monkeypatch, name):
    graph, shape = random_benchmark(name, tmp_path)
    blobs, shapes, segments = _plan(graph, shape, 1 << 20)
    _check_chain(blobs, segments)
    assert len(segments) >= 3
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    _same_values(*_histograms(net, _batches(graph, shape, 3, 3), monkeypatch, (1 << 40, 1 << 20)))
