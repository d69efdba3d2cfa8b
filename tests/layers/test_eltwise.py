"""Eltwise: PROD, SUM (with coeffs), MAX of N blobs."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)
XS = {n: RNG.standard_normal((2, 3, 4, 5)).astype(np.float32) for n in ("a", "b", "c")}


def eltwise(params, inputs=XS):
    return run_layers([layer("Eltwise", "e", list(inputs), ["y"], params)], inputs)["y"]


def test_prod_multiplies_all_inputs():
    np.testing.assert_allclose(eltwise({0: 0}), XS["a"] * XS["b"] * XS["c"], rtol=1e-6)


def test_sum_adds_all_inputs():
    np.testing.assert_allclose(eltwise({0: 1}), XS["a"] + XS["b"] + XS["c"], rtol=1e-6, atol=1e-6)


def test_sum_with_coeffs_weights_each_input():
    y = eltwise({0: 1, 1: [0.5, -2.0, 3.0]})
    np.testing.assert_allclose(y, 0.5 * XS["a"] - 2 * XS["b"] + 3 * XS["c"], rtol=1e-6, atol=1e-6)


def test_max_takes_elementwise_maximum():
    np.testing.assert_array_equal(eltwise({0: 2}), np.maximum(np.maximum(XS["a"], XS["b"]), XS["c"]))


def test_too_few_coeffs_raise():
    with pytest.raises(NcnnlikeError, match="e.*2 coeffs for 3 bottoms"):
        eltwise({0: 1, 1: [1.0, 1.0]})


def test_shape_mismatch_raises():
    inputs = {"a": np.zeros((1, 3, 4), np.float32), "b": np.zeros((1, 3, 5), np.float32)}
    with pytest.raises(NcnnlikeError, match="e.*one shape"):
        eltwise({0: 1}, inputs)
