"""HardSwish: x * clamp(alpha*x + beta, 0, 1), defaults alpha 0.2, beta 0.5."""
import numpy as np
from helpers import layer, run_layers

X = np.random.default_rng(0).uniform(-6, 6, (2, 3, 4, 5)).astype(np.float32)


def test_hardswish_defaults():
    y = run_layers([layer("HardSwish", "h", ["x"], ["y"])], {"x": X})["y"]
    np.testing.assert_allclose(y, X * np.clip(0.2 * X + 0.5, 0, 1), rtol=1e-6, atol=1e-6)


def test_hardswish_with_pytorch_alpha():
    y = run_layers([layer("HardSwish", "h", ["x"], ["y"], {0: 1 / 6, 1: 0.5})], {"x": X})["y"]
    np.testing.assert_allclose(y, X * np.clip(X / 6 + 0.5, 0, 1), rtol=1e-6, atol=1e-6)
