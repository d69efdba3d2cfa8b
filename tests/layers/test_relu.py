"""ReLU: max(x, 0), and leaky with 0=slope."""
import numpy as np
from helpers import layer, run_layers

X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)


def test_relu_zeroes_negatives():
    y = run_layers([layer("ReLU", "r", ["x"], ["y"])], {"x": X})["y"]
    np.testing.assert_array_equal(y, np.maximum(X, 0))


def test_leaky_relu_scales_negatives_by_slope():
    y = run_layers([layer("ReLU", "r", ["x"], ["y"], {0: 0.1})], {"x": X})["y"]
    np.testing.assert_allclose(y, np.where(X < 0, X * np.float32(0.1), X), rtol=1e-6)
