"""MemoryData: shape from dims, .bin request size and tag, constant broadcast against the batch."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.layers.base import explicit_params, weight_specs


@pytest.mark.parametrize("params,count", [
    ({0: 5}, 5), ({0: 5, 1: 4}, 20), ({0: 5, 1: 4, 2: 3}, 60), ({0: 5, 1: 4, 11: 2, 2: 3}, 120), ({}, 0)])
def test_request_is_product_of_non_zero_dims(params, count):
    specs = weight_specs(layer("MemoryData", "m", [], ["y"], params))
    assert sum(s.count for s in specs) == count
    assert all(not s.tagged for s in specs)


def test_load_type_0_is_tagged():
    specs = weight_specs(layer("MemoryData", "m", [], ["y"], {0: 8, 21: 0}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("data", 8, True)]


def test_writer_order_is_w_h_c_d():
    l = layer("MemoryData", "m", [], ["y"], {11: 2, 2: 3, 1: 4, 0: 5})
    assert [pid for pid, _ in explicit_params(l)] == [0, 1, 2, 11]


def test_constant_broadcasts_against_batched_blob():
    rng = np.random.default_rng(0)
    gate = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    mem = layer("MemoryData", "m", [], ["k"], {0: 3}, {"data": gate})
    scale = layer("Scale", "s", ["x", "k"], ["y"], {0: -233})
    out = run_layers([mem, scale], {"x": x}, ["y", "k"])
    np.testing.assert_allclose(out["y"], x * gate[:, None, None], rtol=1e-6)
    assert out["k"].shape == (1, 3)    # extracted alone, the constant has batch 1
    np.testing.assert_array_equal(out["k"][0], gate)


def test_3d_data_keeps_ncnn_layout():
    data = np.arange(60, dtype=np.float32)
    out = run_layers([layer("MemoryData", "m", [], ["k"], {0: 5, 1: 4, 2: 3}, {"data": data})],
                     {}, ["k"])
    np.testing.assert_array_equal(out["k"][0], data.reshape(3, 4, 5))
