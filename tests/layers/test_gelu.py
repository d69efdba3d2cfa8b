"""GELU: 0.5*x*erfc(-x/sqrt(2)), or the tanh form with fast_gelu."""
import math

import numpy as np
from helpers import layer, run_layers

X = np.random.default_rng(0).uniform(-6, 6, (2, 3, 4, 5)).astype(np.float32)


def test_gelu_exact_form():
    y = run_layers([layer("GELU", "g", ["x"], ["y"])], {"x": X})["y"]
    ref = np.vectorize(lambda v: 0.5 * v * math.erfc(-0.70710678 * v))(X.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_gelu_fast_tanh_form():
    y = run_layers([layer("GELU", "g", ["x"], ["y"], {0: 1})], {"x": X})["y"]
    v = X.astype(np.float64)
    ref = 0.5 * v * (1 + np.tanh(0.79788452 * (v + 0.044715 * v ** 3)))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)
