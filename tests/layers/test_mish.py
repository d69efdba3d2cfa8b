"""Mish: x * tanh(ln(1 + exp(x))), including ncnn's +-20 range shortcuts."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary


def mish(v):
    """mish.cpp: softplus is x above 20 and exp(x) below -20."""
    sp = np.where(v > 20, v, np.where(v < -20, np.exp(v), np.log1p(np.exp(np.minimum(v, 20)))))
    return v * np.tanh(sp)


def test_mish_matches_ncnn_formula():
    x = np.random.default_rng(0).uniform(-30, 30, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Mish", "m", ["x"], ["y"])], {"x": x})["y"]
    np.testing.assert_allclose(y, mish(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("Mish m 1 1 x y", tmp_path, SPECIAL)
    for value, expected in [(-100, 0), (np.inf, np.inf)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
