"""HardSwish: x * clamp(alpha*x + beta, 0, 1), defaults alpha 0.2, beta 0.5."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary, without

X = np.random.default_rng(0).uniform(-6, 6, (2, 3, 4, 5)).astype(np.float32)


def test_hardswish_defaults():
    y = run_layers([layer("HardSwish", "h", ["x"], ["y"])], {"x": X})["y"]
    np.testing.assert_allclose(y, X * np.clip(0.2 * X + 0.5, 0, 1), rtol=1e-6, atol=1e-6)


def test_hardswish_with_pytorch_alpha():
    y = run_layers([layer("HardSwish", "h", ["x"], ["y"], {0: 1 / 6, 1: 0.5})], {"x": X})["y"]
    np.testing.assert_allclose(y, X * np.clip(X / 6 + 0.5, 0, 1), rtol=1e-6, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    # not compared: -np.inf, where ncnn's answer depends on the lane (see the layer's docstring)
    x, ours = check_unary("HardSwish h 1 1 x y 0=1.666667e-01", tmp_path, without(SPECIAL, -np.inf))
    for value, expected in [(np.inf, np.inf), (np.nan, np.nan)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
