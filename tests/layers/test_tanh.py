"""TanH: tanh(x)."""
import numpy as np
from helpers import layer, run_layers


def test_tanh_matches_numpy():
    x = np.random.default_rng(0).uniform(-5, 5, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("TanH", "t", ["x"], ["y"])], {"x": x})["y"]
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
