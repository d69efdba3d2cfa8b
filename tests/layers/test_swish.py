"""Swish: x / (1 + exp(-x))."""
import numpy as np
from helpers import layer, run_layers


def test_swish_matches_formula():
    x = np.random.default_rng(0).uniform(-10, 10, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Swish", "s", ["x"], ["y"])], {"x": x})["y"]
    v = x.astype(np.float64)
    np.testing.assert_allclose(y, v / (1 + np.exp(-v)), rtol=1e-5, atol=1e-6)
