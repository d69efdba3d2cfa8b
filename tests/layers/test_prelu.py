"""PReLU: per outer-axis slopes (channels, rows, or elements of a 1-D blob), or one shared slope."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)


def prelu(x, slope):
    lay = layer("PReLU", "p", ["x"], ["y"], {0: len(slope)}, {"slope_data": np.asarray(slope, np.float32)})
    return run_layers([lay], {"x": x})["y"]


@pytest.mark.parametrize("shape", [(3, 4, 5), (3, 4), (3,), (3, 2, 4, 5)])
def test_slopes_apply_along_the_outer_axis(shape):
    x = RNG.standard_normal((2,) + shape).astype(np.float32)
    slope = np.array([0.1, -0.2, 0.3], np.float32)
    s = slope.reshape((1, 3) + (1,) * (len(shape) - 1))
    np.testing.assert_allclose(prelu(x, slope), np.where(x < 0, x * s, x), rtol=1e-6)


def test_single_slope_is_shared():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(prelu(x, [0.25]), np.where(x < 0, x * 0.25, x), rtol=1e-6)


def test_slope_count_mismatch_raises():
    with pytest.raises(NcnnlikeError, match="p.*num_slope 4"):
        prelu(np.zeros((1, 3, 2, 2), np.float32), [0.1, 0.2, 0.3, 0.4])


def test_bin_holds_raw_slopes():
    lay = layer("PReLU", "p", ["x"], ["y"], {0: 16})
    [spec] = weight_specs(lay)
    assert (spec.name, spec.count, spec.tagged) == ("slope_data", 16, False)
