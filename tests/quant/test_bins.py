"""ncnn's 2048-bin counting: the compiled kernel, the numpy/OpenCV path and plain bin indices agree
value for value, on bin edges, zeros, values beyond absmax, chunk and counter-flush boundaries."""
import threading

import numpy as np
import pytest

from helpers import can_build_extensions
from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant import bins


needs_kernel = pytest.mark.skipif(bins._compiled is None, reason="installed without the compiled kernel")
# the ways to the counts this install has (the compiled one where it was built)
WAYS = ([bins.compiled_counts] if bins._compiled is not None else []) + [bins.opencv_counts]


def by_indices(values, absmax):
    """The reference: ncnn's float32 bin index of every value (spec 5.5 step 2), counted."""
    counts = np.bincount(bins.histogram_indices(values, absmax), minlength=bins.NUM_BINS)
    return counts, values.size - int(np.count_nonzero(values))


def edge_values(absmax, n, seed):
    """Values on bin edges and one ulp either side, zeros of both signs, subnormals, absmax itself,
    values beyond it and infinities, among normal and Laplace noise of both signs."""
    rng = np.random.default_rng(seed)
    edges = rng.integers(0, 2048, n // 8).astype(np.float32) * absmax / np.float32(2048)
    parts = [edges, np.nextafter(edges, np.float32(np.inf)), np.nextafter(edges, np.float32(0)), -edges,
             np.array([0.0, -0.0, 1e-45, -1e-40, absmax, -absmax, absmax * 2, np.inf, -np.inf], np.float32),
             rng.normal(0, absmax / 4, n // 4).astype(np.float32),
             np.maximum(rng.laplace(0, absmax / 20, n // 4), 0).astype(np.float32)]
    values = np.concatenate(parts)
    rng.shuffle(values)
    return values


@pytest.mark.skipif(not can_build_extensions(), reason="no C compiler or no Python headers here")
def test_the_compiled_kernel_is_built():
    """setup.py builds it wherever a C compiler is found (as on CI): a broken build must not pass unseen."""
    assert bins._compiled is not None


@pytest.mark.parametrize("absmax", [np.float32(6.1234567), np.float32(1.0), np.float32(3e-30), np.float32(7e4)])
def test_compiled_and_opencv_count_like_ncnn_indices(absmax):
    values = edge_values(absmax, 40_000, 1)
    width = bins.bin_width(absmax)
    expected, zeros = by_indices(values, absmax)
    for way in WAYS:
        counts, z = way(values, width)
        assert np.array_equal(counts, expected) and z == zeros
    assert zeros >= 2 and expected[2047] >= 5


@needs_kernel
@pytest.mark.parametrize("n", [0, 1, 3, 4095, 4096, 4097, 4096 * 1024 + 5])
def test_every_size_across_chunks_and_counter_flushes(n):
    """The kernel counts 4096-value chunks in uint32 and flushes them every 4 Mi values."""
    values = np.random.default_rng(n).normal(0, 1, n).astype(np.float32)
    values[::5] = 0
    absmax = np.float32(4.0)
    counts, zeros = bins.compiled_counts(values, bins.bin_width(absmax))
    expected, expected_zeros = by_indices(values, absmax)
    assert np.array_equal(counts, expected) and zeros == expected_zeros and counts.sum() == n


@needs_kernel
def test_one_bin_holding_every_value():
    values = np.full(5_000_001, 0.5, np.float32)
    counts, zeros = bins.compiled_counts(values, bins.bin_width(np.float32(1.0)))
    assert counts[1024] == values.size and counts.sum() == values.size and zeros == 0


def test_nan_is_an_error_in_every_way():
    values = np.arange(10_000, dtype=np.float32)
    values[9_000] = np.nan
    width = bins.bin_width(np.float32(16384))
    for way in WAYS:
        with pytest.raises(NcnnlikeError, match="non-finite value \\(nan\\)"):
            way(values, width)
    with pytest.raises(NcnnlikeError, match="non-finite value \\(nan\\)"):
        bins.count_bins(values, np.float32(16383.3))      # a width that is not exact: plain indices


@needs_kernel
def test_the_kernel_adds_nothing_for_a_nan():
    width = bins.bin_width(np.float32(16384))
    big = np.ones(4096 * 1024 * 2, np.float32)      # past a counter flush: still nothing added
    big[-1] = np.nan
    counts = np.zeros(2048, np.int64)
    assert bins._compiled.counts(big, float(width), counts) == -1 and not counts.any()


@needs_kernel
def test_the_kernel_checks_its_buffers_and_width():
    counts = np.zeros(2048, np.int64)
    with pytest.raises(TypeError):
        bins._compiled.counts(np.zeros(8, np.float64), 1.0, counts)
    with pytest.raises(TypeError):
        bins._compiled.counts(np.zeros(8, np.float32), 1.0, np.zeros(2048, np.int32))
    with pytest.raises(ValueError):
        bins._compiled.counts(np.zeros(8, np.float32), 1.0, np.zeros(2047, np.int64))
    with pytest.raises(ValueError):
        bins._compiled.counts(np.zeros(8, np.float32), 0.0, counts)
    with pytest.raises(ValueError, match="C-contiguous"):
        bins._compiled.counts(np.zeros(16, np.float32)[::2], 1.0, counts)
    assert not counts.any()


def test_count_bins_takes_any_layout_and_a_width_that_is_not_exact():
    values = edge_values(np.float32(2.5), 8_000, 4)[:8000].reshape(-1, 2)
    for absmax in (np.float32(2.5), np.float32(2.4999)):     # 2.4999 / 2048 is not an exact float32
        counts, zeros = bins.count_bins(values.T, absmax)
        expected, expected_zeros = by_indices(values.reshape(-1), absmax)
        assert np.array_equal(counts, expected) and zeros == expected_zeros


@needs_kernel
def test_threads_bin_at_once_with_the_same_counts():
    """The kernel releases the GIL: calibration workers bin in parallel."""
    values = [edge_values(np.float32(3.0), 400_000, seed) for seed in range(4)]
    width = bins.bin_width(np.float32(3.0))
    results = [None] * 4

    def work(i):
        results[i] = bins.compiled_counts(values[i], width)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v, (counts, zeros) in zip(values, results):
        expected, expected_zeros = by_indices(v, np.float32(3.0))
        assert np.array_equal(counts, expected) and zeros == expected_zeros


def test_without_the_kernel_count_bins_takes_numpy_and_opencv(monkeypatch):
    """An install without a C compiler has no _bins: the same counts come from the OpenCV path."""
    values = edge_values(np.float32(5.5), 20_000, 6)
    expected = by_indices(values, np.float32(5.5))
    monkeypatch.setattr(bins, "_compiled", None)
    counts, zeros = bins.count_bins(values, np.float32(5.5))
    assert np.array_equal(counts, expected[0]) and zeros == expected[1]
