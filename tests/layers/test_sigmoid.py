"""Sigmoid: 1/(1+exp(-x)) with the input clamped to +-88.3762626647949."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary


def test_sigmoid_matches_clamped_formula():
    x = np.random.default_rng(0).uniform(-100, 100, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Sigmoid", "s", ["x"], ["y"])], {"x": x})["y"]
    v = np.clip(x.astype(np.float64), -88.3762626647949, 88.3762626647949)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-v)), rtol=1e-5, atol=1e-7)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("Sigmoid s 1 1 x y", tmp_path, SPECIAL, any_size=True)
    for value, expected in [(np.nan, 4.15602844e-39), (-np.inf, 0), (np.inf, 1)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
