"""Method registry, minmax/percentile/mse, the table API, and kl/aciq parity with the real ncnn2table."""
import os
from collections import OrderedDict

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.quant import methods
from ncnnlike.quant.methods import mse, percentile
from ncnnlike.quant.stats import CalibrationStats, Histogram, LayerStats
from ncnnlike.quant.tablefile import read_table, write_table

TINY = os.path.join(REFERENCE, "tiny")


def hist_stats(bins, absmax=2048.0, zeros=0):
    """LayerStats with a histogram: bins {index: count} over [0, absmax]."""
    histogram = Histogram(absmax)
    for index, count in bins.items():
        histogram.counts[index] = count
    histogram.zeros = zeros
    stats = LayerStats(histogram=histogram)
    stats.absmax.absmax, stats.absmax.samples = np.float32(absmax), 1
    return stats


def test_registry_names_and_errors():
    assert list(methods.METHODS) == ["kl", "aciq", "minmax", "percentile", "mse"]
    assert [methods.needs_histogram(m) for m in methods.METHODS] == [True, False, False, True, True]
    with pytest.raises(NcnnlikeError, match="unknown method 'eq2' \\(expected one of kl, aciq, minmax"):
        methods.get("eq2")
    with pytest.raises(NcnnlikeError, match="method kl takes no option percentile"):
        methods.get("kl", percentile=99.0)


def test_blob_scale_is_float32_and_guarded():
    assert methods.blob_scale(2.176560) == float(np.float32(127) / np.float32(2.176560))
    assert methods.blob_scale(0.0) == 1.0
    assert methods.blob_scale(1e-40) == 1.0       # 127/denormal overflows float32


def test_minmax_threshold_is_absmax():
    stats = LayerStats()
    stats.absmax.update(np.array([[0.5, -7.25, 3.0]], np.float32))
    assert methods.get("minmax")(stats) == 7.25


def test_percentile_interpolates_inside_the_bin_by_hand():
    stats = hist_stats({0: 50, 10: 40, 100: 10})           # bin width 1.0
    assert percentile.threshold(stats, 95) == 100.5        # 5 of the 10 values in bin 100
    assert percentile.threshold(stats, 50) == 1.0          # the whole of bin 0
    assert methods.get("percentile", percentile=100)(stats) == 101.0
    with_zeros = hist_stats({0: 50, 10: 40, 100: 10}, zeros=100)
    assert percentile.threshold(with_zeros, 95) == 11.0    # zeros count: 190 of 200 values lie below 11
    with pytest.raises(NcnnlikeError, match="percentile must be in"):
        percentile.threshold(stats, 0)


def test_mse_errors_equal_a_direct_computation():
    rng = np.random.default_rng(5)
    counts = rng.integers(0, 50, 2048) * (rng.random(2048) < 0.3)
    absmax = 3.0
    width = absmax / 2048
    x = (np.arange(2048) + 0.5) * width
    errors = mse.errors(counts, absmax)
    for k in (1, 17, 600, 2047, 2048):
        T = k * width
        direct = sum(c * (xi - T) ** 2 for c, xi in zip(counts[k:], x[k:])) + counts[:k].sum() * (T / 127) ** 2 / 12
        assert errors[k - 1] == pytest.approx(direct, rel=1e-9)


def test_mse_clips_a_far_outlier_but_not_a_uniform_range():
    outlier = hist_stats({i: 10 ** 7 for i in range(100)} | {2047: 1})    # 1e9 values in [0, 100)
    assert methods.get("mse")(outlier) < 150.0
    uniform = hist_stats({i: 10 for i in range(2048)})
    assert methods.get("mse")(uniform) > 2000.0


def test_compute_table_gives_weight_and_blob_lines_keyed_by_layer(tmp_path):
    w1 = np.arange(1, 1 + 4 * 3 * 9, dtype=np.float32).reshape(4, -1) * np.float32([[1], [-1], [0.5], [0]])
    graph = Graph([
        layer("Input", "in", [], ["x"]),
        layer("Convolution", "c1", ["x"], ["y"], {0: 4, 1: 3, 5: 0, 6: 108}, {"weight_data": w1.ravel()}),
        layer("Convolution", "c2", ["y"], ["z"], {0: 1, 1: 1, 6: 4}, {"weight_data": np.float32([0.5, -2, 1, 1])}),
    ])
    stats = CalibrationStats(["c1", "c2"])
    stats.update_absmax("c1", np.float32([[[1.0, -3.0]]]))
    stats.update_absmax("c2", np.zeros((1, 4), np.float32))
    weights, blobs, static = methods.compute_table(graph, stats, "minmax")
    assert list(weights) == ["c1_param_0", "c2_param_0"] and list(blobs) == ["c1", "c2"] and not static
    assert weights["c1_param_0"].tolist() == [np.float32(31) / np.float32(27), np.float32(31) / np.float32(54),
                                              np.float32(31) / np.float32(40.5), 1.0]   # 3x3 s1: 6-bit rule
    assert weights["c2_param_0"].tolist() == [63.5]
    assert blobs["c1"].tolist() == [np.float32(127) / np.float32(3)] and blobs["c2"].tolist() == [1.0]
    write_table(str(tmp_path / "t.table"), weights, blobs, static)
    assert read_table(str(tmp_path / "t.table")).blobs["c2"].values.tolist() == [1.0]
    del stats["c2"]
    with pytest.raises(NcnnlikeError, match="no calibration statistics for layer c2"):
        methods.compute_table(graph, stats, "kl")


def tiny_blob_stats():
    """Bottom blobs of tiny's conv layers on calib20-png, run by the real ncnn (pip) as ncnn2table does."""
    ncnn = pytest.importorskip("ncnn")
    import cv2
    net = ncnn.Net()
    net.opt.num_threads = 1
    net.opt.use_fp16_packed = net.opt.use_fp16_storage = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.load_param(os.path.join(TINY, "tiny-opt.param"))
    net.load_model(os.path.join(TINY, "tiny-opt.bin"))
    bottoms = {"convrelu_0": "in0", "convrelu_1": "1", "convdwrelu_0": "2", "conv_7": "3", "linear_8": "6"}
    samples = []
    with open(os.path.join(TINY, "calib20-png.txt")) as f:
        for path in f.read().split():
            bgr = cv2.imread(os.path.normpath(os.path.join(TINY, path)), 1)
            mat = ncnn.Mat.from_pixels_resize(bgr, ncnn.Mat.PixelType.PIXEL_BGR, bgr.shape[1], bgr.shape[0], 32, 32)
            mat.substract_mean_normalize([104.0, 117.0, 123.0], [0.017] * 3)
            ex = net.create_extractor()
            ex.input("in0", mat)
            samples.append({name: np.array(ex.extract(blob)[1])[None] for name, blob in bottoms.items()})
    stats = CalibrationStats(list(bottoms))
    for sample in samples:
        for name, blob in sample.items():
            stats.update_absmax(name, blob)
    stats.start_histograms()
    for sample in samples:
        for name, blob in sample.items():
            stats.update_histogram(name, blob)
    return stats


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_blob_scales_equal_real_ncnn2table_on_tiny(method):
    stats = tiny_blob_stats()
    expected = read_table(os.path.join(TINY, "tiny-png-%s.table" % method)).blobs
    scales = methods.blob_scales(stats, method)
    assert list(scales) == list(expected)
    assert ["%f" % s for s in scales.values()] == ["%f" % v.values[0] for v in expected.values()]


def test_thresholds_on_threads_are_those_of_one_thread_in_layer_order():
    rng = np.random.default_rng(3)
    stats = CalibrationStats(OrderedDict(
        ("layer%d" % k, hist_stats({int(i): int(c) for i, c in zip(rng.integers(0, 2048, 300), rng.integers(1, 99, 300))},
                                   absmax=float(k + 1)))
        for k in range(7)))
    one = methods.thresholds(stats, "kl")
    assert list(methods.thresholds(stats, "kl", threads=3).items()) == list(one.items())
    assert len(set(one.values())) > 1
    broken = CalibrationStats(OrderedDict(stats))
    broken["layer5"] = LayerStats()
    with pytest.raises(NcnnlikeError, match="layer layer5: method kl needs the phase-2 histogram"):
        methods.thresholds(broken, "kl", threads=3)
