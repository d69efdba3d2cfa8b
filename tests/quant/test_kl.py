"""KL method: bit-exact float32 reproduction of ncnn2table's search (spec 5.5), and its fast path."""
import ctypes
import ctypes.util

import numpy as np
import pytest

from ncnnlike.quant.methods import blob_scale, kl, kl_bound
from ncnnlike.quant.methods.logf import logf
from ncnnlike.quant.stats import Histogram, LayerStats

f32 = np.float32
EPS = f32(0.0001)


def seq_sum(start, values):
    """start + v0 + v1 + ... one by one in float32."""
    acc = f32(start)
    for v in np.asarray(values, np.float32):
        acc = f32(acc + v)
    return acc


def reference_kl(counts, ts=range(128, 2048)):
    """Spec 5.5 steps 3-4 written out loop by loop in float32, one t at a time (slow, plain)."""
    counts = np.asarray(counts, np.uint64)
    H = (counts.astype(np.float64) / float(counts.sum())).astype(np.float32)
    result = []
    for t in ts:
        P = EPS + H[:t]
        P[t - 1] = seq_sum(P[t - 1], H[t:])
        npb = f32(t) / f32(128)
        Q = np.zeros(128, np.float32)
        spans = []
        for j in range(128):
            start = f32(0) if j == 0 else (f32(t) - npb if j == 127 else f32(j) * npb)
            end = f32(t) if j == 127 else f32(j + 1) * npb
            lu, rl = int(np.ceil(start)), int(np.floor(end))
            ls, rs = f32(lu) - start, end - f32(rl)
            acc = f32(0)
            if ls > 0:
                acc = f32(acc + ls * H[lu - 1])
            if rs > 0:
                acc = f32(acc + rs * H[rl])
            acc = np.cumsum(np.concatenate([[acc], H[lu:rl]]).astype(np.float32))[-1]
            Q[j] = acc / f32(f32(f32(rl - lu) + ls) + rs)
            spans.append((lu, ls, rl, rs))
        E = np.full(t, EPS, np.float32)
        for j, (lu, ls, rl, rs) in enumerate(spans):
            if ls > 0:
                E[lu - 1] = E[lu - 1] + ls * Q[j]
            if rs > 0:
                E[rl] = E[rl] + rs * Q[j]
            E[lu:rl] = E[lu:rl] + Q[j]
        result.append(np.cumsum(P * logf(P / E))[-1])
    return np.array(result, np.float32)


def histograms():
    """Histograms of very different shapes: heavy tails, relu'd normals, sparse counts, flat, spiky."""
    rng = np.random.default_rng(2)
    out = []
    for df in (1.5, 3, 30):
        v = np.abs(rng.standard_t(df, 200000))
        out.append(np.bincount(np.minimum((v / v.max() * 2048).astype(int), 2047), minlength=2048))
    for density in (0.02, 0.3, 0.9):
        c = rng.integers(0, 6, 2048) * (rng.random(2048) < density)
        c[2047] = 1
        out.append(c)
    spiky = np.zeros(2048, np.int64)
    spiky[[0, 1, 64, 900, 2047]] = [10 ** 6, 5, 7, 3, 1]
    return out + [np.full(2048, 3), spiky]


def stats_of(counts, absmax):
    histogram = Histogram(absmax)
    histogram.counts = np.asarray(counts, np.uint64)
    return LayerStats(histogram=histogram)


def test_logf_equals_the_c_library_logf_bit_for_bit():
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.logf.restype, libm.logf.argtypes = ctypes.c_float, [ctypes.c_float]
    rng = np.random.default_rng(7)
    x = np.concatenate([np.exp(rng.uniform(-12, 12, 40000)), rng.uniform(0.98, 1.02, 20000),
                        [1.0, 2.0, 0.5, 1e-4, 1e4]]).astype(np.float32)
    expected = np.array([libm.logf(float(v)) for v in x], np.float32)
    assert np.array_equal(logf(x), expected)
    assert np.count_nonzero(np.log(x) != expected) > 100    # numpy's float32 log would not do


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_kl_curve_equals_straightforward_loop_bit_for_bit(kind):
    """Every t for the dense histogram, every third t for the sparse one (the plain loop is slow)."""
    rng = np.random.default_rng(11)
    if kind == "dense":   # relu'd normal activations with a long tail
        v = np.abs(rng.standard_t(4, 300000))
        counts = np.bincount(np.minimum((v / v.max() * 2048).astype(int), 2047), minlength=2048)
    else:                 # few samples: many empty bins
        counts = rng.integers(0, 4, 2048) * (rng.random(2048) < 0.2)
        counts[2047] = 1
    ts = np.arange(128, 2048) if kind == "dense" else np.arange(129, 2048, 3)
    assert np.array_equal(kl.kl_divergences(counts)[ts - 128], reference_kl(counts, ts))


def test_single_outlier_is_clipped_at_the_first_candidate():
    counts = np.zeros(2048, np.uint64)
    counts[5], counts[2047] = 100000, 1
    curve = kl.kl_divergences(counts)
    # t = 128: Q = H bin for bin, so only the folded outlier differs: P = eps + h, E = eps
    h = f32(1 / 100001)
    p = f32(EPS + f32(0)) + h
    assert curve[0] == f32(p * logf(np.array([p / EPS]))[0])
    assert kl.best_bin(counts) == 128
    assert kl.threshold(stats_of(counts, 8.0)) == float(f32(128.5) * f32(8.0) / f32(2048))


def test_uniform_histogram_keeps_almost_everything():
    counts = np.full(2048, 1000, np.uint64)
    assert kl.best_bin(counts) == 2047
    assert kl.threshold(stats_of(counts, 1.0)) == 2047.5 / 2048


def test_threshold_is_computed_in_float32():
    counts = np.zeros(2048, np.uint64)
    counts[[3, 700, 2047]] = [50, 40, 1]
    t = kl.best_bin(counts)
    absmax = f32(3.3333333)
    expected = (f32(t) + f32(0.5)) * absmax / f32(2048)
    assert kl.threshold(stats_of(counts, absmax)) == float(expected)


def test_all_zero_blob_gives_zero_threshold_and_finite_scale():
    assert kl.threshold(stats_of(np.zeros(2048), 0.0)) == 0.0
    assert blob_scale(0.0) == 1.0


def test_estimate_bound_holds_for_every_candidate():
    g = kl._geometry()
    for counts in histograms():
        estimate, bound = kl_bound.estimate(kl.normalize(counts), g)
        exact = kl.kl_divergences(counts).astype(np.float64)
        assert np.all(np.abs(exact - estimate) <= bound)
        assert np.all(bound < 0.01 * np.abs(estimate).max() + 1e-6)      # tight enough to prune


def test_estimate_in_row_blocks_is_the_estimate_of_all_rows_at_once(monkeypatch):
    g = kl._geometry()
    for counts in histograms():
        blocked = kl_bound.estimate(kl.normalize(counts), g)
        monkeypatch.setattr(kl_bound, "ROWS", len(kl_bound._indices(g).t))
        whole = kl_bound.estimate(kl.normalize(counts), g)
        monkeypatch.undo()
        assert np.array_equal(blocked[0], whole[0]) and np.array_equal(blocked[1], whole[1])


def test_fast_search_finds_the_same_bin_as_the_full_curve():
    for counts in histograms():
        assert kl.best_bin(counts) == 128 + int(np.argmin(kl.kl_divergences(counts)))


def test_exact_kl_at_chosen_bins_equals_the_full_curve():
    counts = histograms()[1]
    ts = np.array([128, 129, 200, 1000, 1023, 2047])
    assert np.array_equal(kl.kl_divergences_at(kl.normalize(counts), ts), kl.kl_divergences(counts)[ts - 128])
