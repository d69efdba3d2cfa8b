"""Flatten: 1-D blob in channel-major order, from 1-D to 4-D blobs."""
import numpy as np
import pytest
from helpers import layer, run_layers


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 2, 3, 4)])
def test_flatten_gives_row_major_1d(shape):
    x = np.arange(2 * np.prod(shape), dtype=np.float32).reshape((2,) + shape)
    y = run_layers([layer("Flatten", "f", ["x"], ["y"])], {"x": x})["y"]
    np.testing.assert_array_equal(y, x.reshape(2, -1))
