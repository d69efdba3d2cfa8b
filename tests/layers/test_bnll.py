"""BNLL: x + log(1 + exp(-x)) for x > 0, else log(1 + exp(x)), against pip ncnn."""
import numpy as np
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary, without


def test_bnll_matches_ncnn(tmp_path):
    x = np.random.default_rng(0).uniform(-30, 30, (4, 3, 5)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nBNLL b 1 1 x y", {"x": x}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], np.logaddexp(0, x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_bnll_does_not_overflow_for_large_inputs(tmp_path):
    x = np.array([200, 89, 88, 0, -20, -90, -200], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nBNLL b 1 1 x y", {"x": x}, tmp_path, batch=1)["y"]
    assert np.isfinite(ours).all() and ours[0][0] == 200


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    # not compared: np.nan, where ncnn's answer depends on the lane (see the layer's docstring)
    x, ours = check_unary("BNLL b 1 1 x y", tmp_path, without(SPECIAL, np.nan))
    for value, expected in [(np.inf, np.inf), (-np.inf, 0)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
