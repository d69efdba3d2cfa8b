"""Crop: offset/size form, numpy-style starts/ends/axes, and cropping to a reference blob."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError

X = np.random.default_rng(0).standard_normal((2, 5, 6, 7)).astype(np.float32)


def crop(params, bottoms=("x",), inputs=None):
    return run_layers([layer("Crop", "crop", list(bottoms), ["y"], params)], inputs or {"x": X})["y"]


def test_offsets_and_sizes():
    y = crop({0: 1, 1: 2, 2: 1, 3: 4, 4: 3, 5: 2})
    np.testing.assert_array_equal(y, X[:, 1:3, 2:5, 1:5])


def test_far_side_offsets_with_absent_sizes():
    y = crop({0: 1, 6: 2, 1: 0, 7: 1, 3: -233, 4: -233, 5: -233})
    np.testing.assert_array_equal(y, X[:, :, 0:5, 1:5])


def test_numpy_style_slices_with_negative_and_clamped_ends():
    y = crop({9: [1, -4], 10: [100, -1], 11: [1, -1]})   # h 1:6, w -4:-1
    np.testing.assert_array_equal(y, X[:, :, 1:6, 3:6])


def test_numpy_style_end_0_means_to_the_end_and_minus_233_is_the_edge():
    y = crop({9: [2, -233], 10: [0, 3], 11: [0, 2]})
    np.testing.assert_array_equal(y, X[:, 2:, :, 0:3])


def test_numpy_style_without_axes_covers_every_axis():
    x = X[:, 0]
    y = crop({9: [1, 2], 10: [-1, 6]}, inputs={"x": x})
    np.testing.assert_array_equal(y, x[:, 1:5, 2:6])


def test_crop_to_reference_blob_keeps_channels_of_other_rank():
    ref = np.zeros((2, 3, 4), np.float32)          # a 2-D reference: crops h, w only
    y = crop({0: 2, 1: 1}, bottoms=("x", "r"), inputs={"x": X, "r": ref})
    np.testing.assert_array_equal(y, X[:, :, 1:4, 2:6])


def test_crop_to_3d_reference_takes_its_channels():
    ref = np.zeros((2, 2, 3, 4), np.float32)
    y = crop({0: 2, 1: 1, 2: 3}, bottoms=("x", "r"), inputs={"x": X, "r": ref})
    np.testing.assert_array_equal(y, X[:, 3:5, 1:4, 2:6])


def test_out_of_range_crop_is_a_clear_error():
    with pytest.raises(NcnnlikeError, match="do not fit"):
        crop({9: [4], 10: [2], 11: [0]})
