"""ELU: alpha*(exp(x)-1) for x < 0, default alpha 0.1."""
import numpy as np
from helpers import layer, run_layers
from special_values import SPECIAL, at, avx512, check_unary

X = np.random.default_rng(0).uniform(-5, 5, (2, 3, 4, 5)).astype(np.float32)


def elu(v, alpha):
    return np.where(v < 0, alpha * np.expm1(v), v)


def test_elu_default_alpha_is_0_1():
    y = run_layers([layer("ELU", "e", ["x"], ["y"])], {"x": X})["y"]
    np.testing.assert_allclose(y, elu(X.astype(np.float64), 0.1), rtol=1e-5, atol=1e-6)


def test_elu_with_alpha():
    y = run_layers([layer("ELU", "e", ["x"], ["y"], {0: 1.5})], {"x": X})["y"]
    np.testing.assert_allclose(y, elu(X.astype(np.float64), 1.5), rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("ELU e 1 1 x y 0=0.5", tmp_path, SPECIAL)
    for value, expected in [(-np.inf, -0.5)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
