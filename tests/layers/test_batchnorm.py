"""BatchNorm: y = b*x + a with ncnn's folding, per element (1-D), per row (2-D), per channel (3-D/4-D)."""
import numpy as np
import pytest

from helpers import layer, run_layers


def bn_layer(n, rng, var=None, eps=1e-3):
    w = {"slope_data": rng.standard_normal(n), "mean_data": rng.standard_normal(n),
         "var_data": rng.random(n) if var is None else var, "bias_data": rng.standard_normal(n)}
    w = {k: np.asarray(v, np.float32) for k, v in w.items()}
    return layer("BatchNorm", "bn", ["x"], ["y"], {0: n, 1: eps}, w), w


def ref_bn(x, w, eps, axis_shape):
    sqrt_var = np.sqrt(w["var_data"] + np.float32(eps))
    sqrt_var = np.where(sqrt_var == 0, np.float32(0.0001), sqrt_var)
    b = (w["slope_data"] / sqrt_var).reshape(axis_shape)
    a = (w["bias_data"] - w["slope_data"] * w["mean_data"] / sqrt_var).reshape(axis_shape)
    return b * x + a


@pytest.mark.parametrize("shape,axis_shape", [
    ((6,), (6,)), ((6, 5), (6, 1)), ((6, 4, 5), (6, 1, 1)), ((6, 2, 4, 5), (6, 1, 1, 1))])
def test_per_axis_affine_matches_spec_formula(shape, axis_shape):
    rng = np.random.default_rng(0)
    l, w = bn_layer(shape[0], rng)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    y = run_layers([l], {"x": x})["y"]
    np.testing.assert_allclose(y, ref_bn(x, w, 1e-3, axis_shape), rtol=1e-5, atol=1e-5)


def test_zero_variance_and_eps_uses_0_0001():
    rng = np.random.default_rng(1)
    l, w = bn_layer(3, rng, var=np.zeros(3, np.float32), eps=0.0)
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    y = run_layers([l], {"x": x})["y"]
    expected = (w["slope_data"] / 0.0001).reshape(3, 1, 1) * x + (
        w["bias_data"] - w["slope_data"] * w["mean_data"] / 0.0001).reshape(3, 1, 1)
    np.testing.assert_allclose(y, expected, rtol=1e-5)
