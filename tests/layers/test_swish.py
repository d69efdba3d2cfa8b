"""Swish: x / (1 + exp(-x))."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary, without


def test_swish_matches_formula():
    x = np.random.default_rng(0).uniform(-10, 10, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Swish", "s", ["x"], ["y"])], {"x": x})["y"]
    v = x.astype(np.float64)
    np.testing.assert_allclose(y, v / (1 + np.exp(-v)), rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    # not compared: -3e38, -np.inf, where ncnn's answer depends on the lane (see the layer's docstring)
    x, ours = check_unary("Swish s 1 1 x y", tmp_path, without(SPECIAL, -3e38, -np.inf))
    for value, expected in [(np.inf, np.inf), (-100, 0)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
