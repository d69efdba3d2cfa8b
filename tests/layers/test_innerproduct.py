"""InnerProduct: flatten vs row-batch shapes, bias and fused activation, int8 .bin buffers."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs


def ip_layer(num_output, w, b=None, act=0, act_params=None):
    params = {0: num_output, 2: w.size, 9: act}
    weights = {"weight_data": w.ravel()}
    if b is not None:
        params[1] = 1
        weights["bias_data"] = b
    if act_params:
        params[10] = act_params
    return layer("InnerProduct", "fc", ["x"], ["y"], params, weights)


def test_3d_bottom_is_flattened_channel_major():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w = rng.standard_normal((7, 60)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    y = run_layers([ip_layer(7, w, b, 2, [0.1])], {"x": x})["y"]
    ref = x.reshape(2, 60) @ w.T + b
    ref = np.where(ref > 0, ref, ref * np.float32(0.1))
    assert y.shape == (2, 7)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_2d_bottom_with_w_equal_num_input_is_a_batch_of_rows():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 5)).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = run_layers([ip_layer(3, w, b, 1)], {"x": x})["y"]
    assert y.shape == (2, 6, 3)
    np.testing.assert_allclose(y, np.maximum(x @ w.T + b, 0), rtol=1e-5, atol=1e-5)


def test_2d_bottom_with_other_w_is_flattened():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((5, 12)).astype(np.float32)
    y = run_layers([ip_layer(5, w)], {"x": x})["y"]
    assert y.shape == (2, 5)
    np.testing.assert_allclose(y, x.reshape(2, 12) @ w.T, rtol=1e-5, atol=1e-5)


def test_1d_bottom():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9)).astype(np.float32)
    w = rng.standard_normal((4, 9)).astype(np.float32)
    y = run_layers([ip_layer(4, w)], {"x": x})["y"]
    np.testing.assert_allclose(y, x @ w.T, rtol=1e-5, atol=1e-5)


def test_wrong_input_size_is_a_clear_error():
    x = np.zeros((2, 10), np.float32)
    with pytest.raises(NcnnlikeError, match="weights expect 9"):
        run_layers([ip_layer(4, np.ones((4, 9), np.float32))], {"x": x})


def test_int8_buffers_have_weight_scales_per_output_and_one_bottom_scale():
    l = layer("InnerProduct", "fc", ["x"], ["y"], {0: 10, 1: 1, 2: 200, 8: 2})
    specs = weight_specs(l)
    assert [(s.name, s.count, s.tagged) for s in specs] == [
        ("weight_data", 200, True), ("bias_data", 10, False),
        ("weight_data_int8_scales", 10, False), ("bottom_blob_int8_scales", 1, False)]
