"""GELU: 0.5*x*erfc(-x/sqrt(2)), or the tanh form with fast_gelu."""
import math

import numpy as np
import pytest
from helpers import layer, run_layers
from special_values import at, avx512, check_unary

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


@avx512
@pytest.mark.parametrize("fast", [0, 1])
def test_special_inputs_match_pip_ncnn(tmp_path, fast):
    x, ours = check_unary("GELU g 1 1 x y 0=%d" % fast, tmp_path)
    # ncnn's vector code: (1 + erf) * x * 0.5 overflows for |x| > 1.7e38, fast_gelu's 0.5 * x * ... not
    np.testing.assert_allclose([at(x, ours, 3e38), at(x, ours, -3e38)], [3e38 if fast else np.inf, 0], atol=1e-30)
