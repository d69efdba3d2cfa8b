"""TanH: tanh(x)."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary


def test_tanh_matches_numpy():
    x = np.random.default_rng(0).uniform(-5, 5, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("TanH", "t", ["x"], ["y"])], {"x": x})["y"]
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("TanH t 1 1 x y", tmp_path, SPECIAL, any_size=True)
    for value, expected in [(np.nan, -1), (np.inf, 1)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
