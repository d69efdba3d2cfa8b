"""CELU: alpha * (exp(x / alpha) - 1) for x < 0, else x; alpha defaults to 1, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary

X = np.random.default_rng(0).uniform(-6, 6, (4, 3, 5)).astype(np.float32)


@pytest.mark.parametrize("alpha", [None, 0.4, 2.5])
def test_celu_matches_ncnn(tmp_path, alpha):
    params = "" if alpha is None else " 0=%e" % alpha
    ours, _ = check_ncnn("Input in 0 1 x\nCELU c 1 1 x y" + params, {"x": X}, tmp_path)["y"]
    a = 1.0 if alpha is None else alpha
    v = X.astype(np.float64)
    np.testing.assert_allclose(ours[0], np.where(v < 0, a * np.expm1(v / a), v), rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("CELU c 1 1 x y 0=0.7", tmp_path, SPECIAL)
    for value, expected in [(-np.inf, -0.7)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
