"""Reduction: the 11 operations against numpy, ncnn axes, keepdims, coeff and output shapes."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(1)

REFERENCE = {
    0: lambda x, ax: x.sum(ax), 1: lambda x, ax: np.abs(x).sum(ax), 2: lambda x, ax: (x * x).sum(ax),
    3: lambda x, ax: x.mean(ax), 4: lambda x, ax: x.max(ax), 5: lambda x, ax: x.min(ax),
    6: lambda x, ax: x.prod(ax), 7: lambda x, ax: np.abs(x).sum(ax),
    8: lambda x, ax: np.sqrt((x * x).sum(ax)), 9: lambda x, ax: np.log(x.sum(ax)),
    10: lambda x, ax: np.log(np.exp(x).sum(ax)),
}


def reduce(x, params):
    return run_layers([layer("Reduction", "red", ["x"], ["y"], params)], {"x": x})["y"]


@pytest.mark.parametrize("op", range(11))
def test_each_operation_over_h_and_w_matches_numpy(op):
    x = RNG.uniform(0.2, 1.5, (2, 3, 4, 5)).astype(np.float32)
    y = reduce(x, {0: op, 1: 0, 3: [1, 2], 5: 1})
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y, REFERENCE[op](x.astype(np.float64), (2, 3)), rtol=1e-5)


def test_reduce_all_default_gives_one_element_blob():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = reduce(x, {0: 0})
    assert y.shape == (2, 1)
    np.testing.assert_allclose(y[:, 0], x.sum((1, 2, 3)), rtol=1e-5, atol=1e-5)


def test_keepdims_keeps_rank_with_ones():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = reduce(x, {0: 4, 1: 0, 3: [0], 4: 1, 5: 1})
    assert y.shape == (2, 1, 4, 5)
    np.testing.assert_array_equal(y, x.max(1, keepdims=True))


def test_negative_axis_counts_from_w():
    x = RNG.standard_normal((2, 6, 7)).astype(np.float32)
    y = reduce(x, {0: 5, 1: 0, 3: [-1], 5: 1})
    assert y.shape == (2, 6)
    np.testing.assert_array_equal(y, x.min(2))


def test_4d_blob_reduces_d_axis():
    x = RNG.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    y = reduce(x, {0: 0, 1: 0, 3: [1], 5: 1})
    assert y.shape == (2, 2, 4, 5)
    np.testing.assert_allclose(y, x.sum(2), rtol=1e-5, atol=1e-6)


def test_mean_with_coeff_scales_by_coeff_over_count():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    y = reduce(x, {0: 3, 1: 0, 2: 2.5, 3: [0, 1], 5: 1})
    assert y.shape == (2, 1)
    np.testing.assert_allclose(y[:, 0], 2.5 * x.mean((1, 2)), rtol=1e-5, atol=1e-6)


def test_1d_blob_always_reduces_w():
    x = RNG.standard_normal((2, 7)).astype(np.float32)
    y = reduce(x, {0: 2, 1: 0, 3: [0], 4: 1, 5: 1})
    assert y.shape == (2, 1)
    np.testing.assert_allclose(y[:, 0], (x * x).sum(1), rtol=1e-5)


def test_l2_flushes_subnormal_sum_of_squares_to_zero():
    x = np.full((2, 3, 4), 1e-20, np.float32)   # sumsq 4e-40 is subnormal
    x[:, 1] = 3.0
    y = reduce(x, {0: 8, 1: 0, 3: [1], 5: 1})
    np.testing.assert_array_equal(y, [[0.0, 6.0, 0.0]] * 2)


def test_axes_without_fixbug0_is_rejected_like_ncnn():
    with pytest.raises(NcnnlikeError, match="red.*fixbug0"):
        reduce(np.zeros((1, 3, 4), np.float32), {0: 0, 1: 0, 3: [1]})
