"""KL method: bit-exact float32 reproduction of ncnn2table's search (spec 5.5), and its fast path."""
import ctypes
import ctypes.util

import numpy as np
import pytest

from helpers import can_build_extensions
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


needs_kernel = pytest.mark.skipif(kl_bound._compiled is None, reason="installed without the compiled kernel")
# the ways to the estimate this install has (the compiled one where it was built)
ESTIMATES = ([lambda H, g: kl_bound.compiled_estimate(H)] if kl_bound._compiled is not None else []) + [
    kl_bound.numpy_estimate]


@pytest.mark.parametrize("estimate_of", ESTIMATES)
def test_estimate_bound_holds_for_every_candidate(estimate_of):
    g = kl._geometry()
    for counts in histograms():
        estimate, bound = estimate_of(kl.normalize(counts), g)
        exact = kl.kl_divergences(counts).astype(np.float64)
        assert np.all(np.abs(exact - estimate) <= bound)
        assert np.all(bound < 0.01 * np.abs(estimate).max() + 1e-6)      # tight enough to prune


@pytest.mark.skipif(not can_build_extensions(), reason="no C compiler or no Python headers here")
def test_compiled_estimate_is_built():
    assert kl_bound._compiled is not None


@needs_kernel
def test_compiled_estimate_equals_the_numpy_one():
    """Same formulas, the geometry from integer arithmetic and its own logarithm: equal to ~1e-15,
    on every t of histograms of every shape (a t whose intervals differed would differ by far more)."""
    rng = np.random.default_rng(5)
    extra = [rng.integers(0, 1000, 2048) * (rng.random(2048) < p) for p in (0.001, 0.05, 1.0)]
    for counts in histograms() + [c + (np.arange(2048) == 2047) for c in extra]:
        H = kl.normalize(counts)
        compiled, numpy_way = kl_bound.compiled_estimate(H), kl_bound.numpy_estimate(H, kl._geometry())
        assert np.allclose(compiled[0], numpy_way[0], rtol=0, atol=1e-12)
        assert np.allclose(compiled[1], numpy_way[1], rtol=1e-12, atol=0)


@needs_kernel
def test_compiled_estimate_refuses_bad_arguments():
    est, bound = np.empty(1920), np.empty(1920)
    H = kl.normalize(np.ones(2048))
    with pytest.raises(TypeError):
        kl_bound._compiled.estimate(H[:-1], est, bound)
    with pytest.raises(TypeError):
        kl_bound._compiled.estimate(H.astype(np.float64), est, bound)
    with pytest.raises(TypeError):
        kl_bound._compiled.estimate(H, est[:-1], bound)
    with pytest.raises(TypeError):
        kl_bound._compiled.estimate(H, est, bound.astype(np.float32))
    with pytest.raises(TypeError):
        kl_bound._compiled.estimate(H, est, np.empty(1920)[::1].view(np.int64))
    for bad in (np.nan, -1.0, 2.0):
        H_bad = H.copy()
        H_bad[7] = bad
        with pytest.raises(ValueError):
            kl_bound._compiled.estimate(H_bad, est, bound)


def test_estimate_in_row_blocks_is_the_estimate_of_all_rows_at_once(monkeypatch):
    g = kl._geometry()
    for counts in histograms():
        blocked = kl_bound.numpy_estimate(kl.normalize(counts), g)
        monkeypatch.setattr(kl_bound, "ROWS", len(kl_bound._indices(g).t))
        whole = kl_bound.numpy_estimate(kl.normalize(counts), g)
        monkeypatch.undo()
        assert np.array_equal(blocked[0], whole[0]) and np.array_equal(blocked[1], whole[1])


@pytest.mark.parametrize("compiled", [pytest.param(True, marks=needs_kernel), False])
def test_fast_search_finds_the_same_bin_as_the_full_curve(compiled, monkeypatch):
    if not compiled:
        monkeypatch.setattr(kl_bound, "_compiled", None)
    for counts in histograms():
        assert kl.best_bin(counts) == 128 + int(np.argmin(kl.kl_divergences(counts)))


def test_exact_kl_at_chosen_bins_equals_the_full_curve():
    counts = histograms()[1]
    ts = np.array([128, 129, 200, 1000, 1023, 2047])
    assert np.array_equal(kl.kl_divergences_at(kl.normalize(counts), ts), kl.kl_divergences(counts)[ts - 128])
