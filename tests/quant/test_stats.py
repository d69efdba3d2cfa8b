"""Streaming statistics: absmax and ncnn's float32 histogram binning, exact merges, save/load."""
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.bins import histogram_indices
from ncnnlike.quant.stats import AbsMax, CalibrationStats, Histogram, load_stats


def ncnn_index(v, absmax):
    """ncnn2table's bin index of one value, operation by operation in float32 (spec 5.5 step 2)."""
    q = np.float32(abs(np.float32(v))) / np.float32(absmax)
    return min(int(np.float32(q * np.float32(2048))), 2047)


def test_absmax_tracks_extremes_and_per_sample_count():
    a = AbsMax()
    a.update(np.array([[[1.0, -3.5], [0.5, 2.0]]], np.float32))     # one sample of shape (2, 2)
    a.update(np.full((3, 5), 0.25, np.float32))                     # three samples of 5 values
    assert (a.absmax, a.min, a.max, a.count, a.samples) == (3.5, -3.5, 2.0, 5, 4)


def test_four_d_blob_contributes_its_first_depth_slice_only():
    batch = np.zeros((1, 2, 3, 4, 5), np.float32)   # (N, c, d, h, w)
    batch[0, :, 1:] = 9.0                           # ncnn never reads d > 0
    batch[0, 1, 0, 2, 3] = -4.0
    a = AbsMax()
    a.update(batch)
    assert (a.absmax, a.count) == (4.0, 2 * 4 * 5)


def test_non_finite_activation_is_an_error_naming_the_layer():
    stats = CalibrationStats(["conv1"])
    with pytest.raises(NcnnlikeError, match="layer conv1: non-finite value"):
        stats.update_absmax("conv1", np.array([[1.0, np.nan]], np.float32))


def test_histogram_small_case_by_hand():
    h = Histogram(2.0)
    h.update(np.array([[0.0, 1.0, -2.0, 0.5, 1e-3, -0.0]], np.float32))
    expected = np.zeros(2048, np.uint64)
    expected[[1, 512, 1024, 2047]] = 1      # 1e-3/2*2048 = 1.024; 0.5 -> 512; 1.0 -> 1024; 2.0 -> 2047
    assert np.array_equal(h.counts, expected)
    assert h.zeros == 2


def test_histogram_index_follows_ncnn_float32_operation_order():
    rng = np.random.default_rng(3)
    absmax = np.float32(6.1234567)
    k = rng.integers(0, 2048, 20000)
    v = k.astype(np.float32) * absmax / np.float32(2048)               # values on bin edges
    v = np.concatenate([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(0)),
                        rng.uniform(-absmax, absmax, 20000).astype(np.float32)])
    v = v[v != 0]
    ours = histogram_indices(v, absmax)
    expected = np.array([ncnn_index(x, absmax) for x in v])
    assert np.array_equal(ours, expected)
    in_double = np.minimum((np.abs(v.astype(np.float64)) / float(absmax) * 2048).astype(int), 2047)
    by_reciprocal = np.minimum((np.abs(v) * (np.float32(2048) / absmax)).astype(int), 2047)
    assert np.count_nonzero(in_double != expected) > 100       # float32 rounding decides these values
    assert np.count_nonzero(by_reciprocal != expected) > 100


def test_histogram_of_halves_merged_equals_histogram_of_whole():
    rng = np.random.default_rng(0)
    data = np.maximum(rng.normal(0, 1, (40, 8, 16, 16)), 0).astype(np.float32)
    whole, first, second = CalibrationStats(["a", "b"]), CalibrationStats(["a", "b"]), CalibrationStats(["a", "b"])
    for stats, part in ((whole, data), (first, data[:17]), (second, data[17:])):
        stats.update_absmax("a", part)
        stats.update_absmax("b", part[:, :2] * 3)
    first.merge(second)
    assert first == whole
    for stats in (whole, first, second):
        stats["a"].histogram = Histogram(whole["a"].absmax.absmax)
        stats["b"].histogram = Histogram(whole["b"].absmax.absmax)
    for stats, part in ((whole, data), (first, data[:17]), (second, data[17:])):
        stats.update_histogram("a", part)
        stats.update_histogram("b", part[:, :2] * 3)
    first["a"].histogram.merge(second["a"].histogram)
    first["b"].histogram.merge(second["b"].histogram)
    assert first == whole
    assert whole["a"].histogram.total() + whole["a"].histogram.zeros == data.size


def test_merge_keeps_the_count_of_the_later_shard():
    first, second = AbsMax(), AbsMax()
    first.update(np.ones((2, 10), np.float32))
    second.update(np.ones((1, 7), np.float32))
    assert first.merge(second).count == 7
    assert AbsMax().merge(first).count == 7
    assert first.merge(AbsMax()).count == 7


def test_merging_histograms_over_different_absmax_is_refused():
    with pytest.raises(NcnnlikeError, match="different absmax"):
        Histogram(1.0).merge(Histogram(2.0))


def test_save_load_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(1)
    stats = CalibrationStats(["conv1", "fc"])
    x = rng.normal(0, 2, (5, 3, 7, 7)).astype(np.float32)
    stats.update_absmax("conv1", x)
    stats.update_absmax("fc", x.reshape(5, -1)[:, :20])
    stats.start_histograms()
    stats.update_histogram("conv1", x)
    stats.update_histogram("fc", x.reshape(5, -1)[:, :20])
    path = str(tmp_path / "s.npz")
    stats.save(path)
    loaded = load_stats(path)
    assert loaded == stats and list(loaded) == ["conv1", "fc"]
    assert loaded["conv1"].histogram.counts.dtype == np.uint64
    phase1 = CalibrationStats(["conv1"])
    phase1.update_absmax("conv1", x)
    phase1.save(path)
    assert CalibrationStats.load(path)["conv1"].histogram is None


def test_loading_a_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(NcnnlikeError, match="not an ncnnlike calibration statistics file"):
        load_stats(str(path))
    path.write_text("garbage")
    with pytest.raises(NcnnlikeError, match="cannot read calibration statistics"):
        load_stats(str(path))
    stats = CalibrationStats(["a"])
    stats.save(str(path))
    path.write_bytes(path.read_bytes()[:300])          # truncated
    with pytest.raises(NcnnlikeError, match="cannot read calibration statistics"):
        load_stats(str(path))


def test_copy_and_pickle_keep_the_statistics():
    import pickle
    stats = CalibrationStats(["a"])
    stats.update_absmax("a", np.float32([[2.0, -1.0]]))
    assert stats.copy()["a"].absmax.absmax == 2.0
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_binning_over_several_chunks_counts_like_a_plain_bincount():
    rng = np.random.default_rng(9)
    absmax = np.float32(3.75)
    v = np.maximum(rng.normal(0.3, 1.0, 200_003), -absmax).astype(np.float32)   # > 3 chunks, zeros, edges
    v[::7] = 0
    v[:50] = absmax
    v = np.minimum(v, absmax)
    histogram = Histogram(absmax)
    histogram.update(v[None])
    nonzero = v[v != 0]
    expected = np.bincount(np.minimum((np.abs(nonzero) / absmax * np.float32(2048)).astype(np.int64), 2047),
                           minlength=2048)
    assert np.array_equal(histogram.counts, expected.astype(np.uint64)) and histogram.counts[2047] >= 50
    assert histogram.zeros == v.size - nonzero.size


def test_values_beyond_absmax_go_to_the_last_bin_and_nan_is_an_error():
    histogram = Histogram(np.float32(1.0))
    histogram.update(np.array([[0.25, -3.0, 1e30]], np.float32))
    assert histogram.counts[512] == 1 and histogram.counts[2047] == 2 and histogram.total() == 3
    with pytest.raises(NcnnlikeError, match="non-finite value \\(nan\\)"):
        Histogram(np.float32(1.0)).update(np.array([[0.5, np.nan]], np.float32))


def test_extrema_from_the_graph_give_the_blobs_absmax_min_and_max():
    """update_extrema (per-sample minima and maxima, as the graph's reductions give them) compares
    them as Python floats: float32 results equal to numpy's over all the values seen."""
    rng = np.random.default_rng(11)
    pool = np.float32([0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 6.0, -6.0, 0.5, 3.3e-39])
    for _ in range(200):
        ours, seen = AbsMax(), []
        for _ in range(rng.integers(1, 4)):
            batch = rng.choice(pool, (int(rng.integers(1, 4)), 5)).astype(np.float32)
            ours.update_extrema(batch.min(1), batch.max(1), 5)
            seen.append(batch)
        values = np.concatenate(seen)
        assert (ours.absmax, ours.min, ours.max) == (np.abs(values).max(), values.min(), values.max())
        assert all(type(v) is np.float32 for v in (ours.absmax, ours.min, ours.max))
        assert (ours.count, ours.samples) == (5, len(values))
    with pytest.raises(NcnnlikeError, match="non-finite"):
        AbsMax().update_extrema(np.float32([np.nan]), np.float32([1.0]), 1)
    with pytest.raises(NcnnlikeError, match="non-finite"):
        AbsMax().update_extrema(np.float32([-1.0, 0.0]), np.float32([1.0, np.inf]), 1)
