"""Sigmoid: 1/(1+exp(-x)) with the input clamped to +-88.3762626647949."""
import numpy as np
from helpers import layer, run_layers


def test_sigmoid_matches_clamped_formula():
    x = np.random.default_rng(0).uniform(-100, 100, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Sigmoid", "s", ["x"], ["y"])], {"x": x})["y"]
    v = np.clip(x.astype(np.float64), -88.3762626647949, 88.3762626647949)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-v)), rtol=1e-5, atol=1e-7)
