"""Padding: numpy.pad reference for constant / replicate / reflect, channel and depth padding,
per-channel constant values."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.layers.base import weight_specs

NP_MODE = {0: "constant", 1: "edge", 2: "reflect"}


def run_pad(params, x, weights=None):
    return run_layers([layer("Padding", "pad", ["x"], ["y"], params, weights)], {"x": x})["y"]


def np_pad(x, pads, type_, value=0.0):
    widths = [(0, 0)] + pads
    if type_ == 0:
        return np.pad(x, widths, mode="constant", constant_values=value)
    return np.pad(x, widths, mode=NP_MODE[type_])


@pytest.mark.parametrize("type_", [0, 1, 2])
@pytest.mark.parametrize("shape", [(9,), (6, 7), (4, 6, 7), (3, 4, 6, 7)])
def test_borders_match_numpy_pad(shape, type_):
    x = np.random.default_rng(0).standard_normal((2,) + shape).astype(np.float32)
    params = {0: 1, 1: 2, 2: 3, 3: 1, 4: type_, 5: 1.5, 7: 2, 8: 1}
    hw = [(1, 2), (3, 1)]
    pads = {1: [(3, 1)], 2: hw, 3: [(2, 1)] + hw, 4: [(0, 0), (2, 1)] + hw}[len(shape)]
    y = run_pad(params, x)
    np.testing.assert_array_equal(y, np_pad(x, pads, type_, 1.5))


def test_per_channel_values_fill_each_output_channel_border():
    x = np.random.default_rng(1).standard_normal((2, 2, 3, 3)).astype(np.float32)
    values = np.array([10, 20, 30, 40], np.float32)
    y = run_pad({0: 1, 2: 1, 6: 4, 7: 1, 8: 1}, x, {"per_channel_pad_data": values})
    assert y.shape == (2, 4, 4, 4)
    np.testing.assert_array_equal(y[:, 0], np.full((2, 4, 4), 10, np.float32))
    np.testing.assert_array_equal(y[:, 3], np.full((2, 4, 4), 40, np.float32))
    np.testing.assert_array_equal(y[:, 1, 1:, 1:], x[:, 0])
    np.testing.assert_array_equal(y[:, 2, 0, :], np.full((2, 4), 30, np.float32))
    np.testing.assert_array_equal(y[:, 2, :, 0], np.full((2, 4), 30, np.float32))


def test_per_channel_data_is_raw_buffer():
    specs = weight_specs(layer("Padding", "pad", ["x"], ["y"], {6: 5}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("per_channel_pad_data", 5, False)]
    assert weight_specs(layer("Padding", "pad", ["x"], ["y"], {0: 1})) == []
