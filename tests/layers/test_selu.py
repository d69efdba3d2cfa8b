"""SELU: (exp(x) - 1) * alpha * lambda for x < 0, else x * lambda; PyTorch's constants by default."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary

X = np.random.default_rng(0).uniform(-6, 6, (4, 3, 5)).astype(np.float32)


def test_selu_defaults_are_pytorch_constants(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nSELU s 1 1 x y", {"x": X}, tmp_path)["y"]
    v = X.astype(np.float64)
    ref = 1.050700987 * np.where(v < 0, 1.67326324 * np.expm1(v), v)
    np.testing.assert_allclose(ours[0], ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params", [" 0=1.000000e+00 1=2.000000e+00", " 0=5.000000e-01"])
def test_selu_with_params_matches_ncnn(tmp_path, params):
    check_ncnn("Input in 0 1 x\nSELU s 1 1 x y" + params, {"x": X}, tmp_path)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("SELU s 1 1 x y", tmp_path, SPECIAL)
    for value, expected in [(np.inf, np.inf)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
