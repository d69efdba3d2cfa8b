"""ACIQ method: ncnn's Gaussian clip (spec 5.6), N from the last sample, guards for N = 1 and zeros."""
import math

import numpy as np
import pytest

from ncnnlike.quant.methods import aciq, blob_scale
from ncnnlike.quant.stats import LayerStats


def test_factors_match_the_spec_examples():
    # spec 5.6: 8 bits ~ 4.2395954*absmax/sqrt(2 ln N), 6 bits ~ 3.5512377*absmax/sqrt(2 ln N)
    for n in (27, 4096, 150528):
        root = math.sqrt(2 * math.log(n))
        assert aciq.gaussian_clip(1.0, n, 8) == pytest.approx(4.2395954 / root, rel=1e-7)
        assert aciq.gaussian_clip(1.0, n, 6) == pytest.approx(3.5512377 / root, rel=1e-7)
    assert round(aciq.gaussian_clip(1.0, 27), 2) == 1.65
    assert round(aciq.gaussian_clip(1.0, 4096), 2) == 1.04
    assert round(aciq.gaussian_clip(1.0, 150528), 2) == 0.87


def test_threshold_is_alpha_times_sigma_rounded_once_to_float32():
    absmax, n = np.float32(5.0705), 1280
    sigma = float(absmax * np.float32(2)) * aciq.GAUSSIAN_CONST / math.sqrt(2 * math.log(n))
    expected = np.float32(float(np.float32(3.92403714)) * sigma)
    assert aciq.gaussian_clip(absmax, n) == float(expected)
    assert np.float32(127) / expected == np.float32(22.347897)   # printed as ncnn prints it: %f


def test_blob_n_is_the_element_count_of_the_last_sample():
    stats = LayerStats()
    stats.absmax.update(np.linspace(-2, 1, 2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4))
    stats.absmax.update(np.full((1, 2, 5, 5), 0.5, np.float32))
    assert aciq.threshold(stats) == aciq.gaussian_clip(2.0, 2 * 5 * 5)


def test_single_element_blob_uses_absmax_instead_of_dividing_by_zero():
    stats = LayerStats()
    stats.absmax.update(np.array([[3.0]], np.float32))
    assert aciq.threshold(stats) == 3.0


def test_all_zero_blob_gives_a_finite_scale():
    stats = LayerStats()
    stats.absmax.update(np.zeros((4, 8, 2, 2), np.float32))
    assert aciq.threshold(stats) == 0.0
    assert blob_scale(aciq.threshold(stats)) == 1.0
