"""Slice: slices (-233 = equal share of the rest), indices, ncnn axis; exact values."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def slice_(x, params, n_tops):
    tops = ["y%d" % i for i in range(n_tops)]
    out = run_layers([layer("Slice", "sl", ["x"], tops, params)], {"x": x}, tops)
    return [out[t] for t in tops]


@pytest.mark.parametrize("shape,params,bounds", [
    ((7, 3, 4), {0: [1, -233, -233], 1: 0}, [0, 1, 4, 7]),
    ((2, 7, 4), {0: [2, -233], 1: 1}, [0, 2, 7]),
    ((2, 3, 10), {0: [-233, -233, -233], 1: -1}, [0, 3, 6, 10]),   # 10 // 3, 7 // 2, 4
    ((2, 3, 10), {2: [3, -2], 1: 2}, [0, 3, 8, 10]),                # indices, negative from the end
    ((2, 7, 3, 4), {2: [1], 1: 1}, [0, 1, 7]),
    ((9,), {0: [1, -233]}, [0, 1, 9]),
])
def test_slice_cuts_ncnn_sizes(shape, params, bounds):
    x = RNG.standard_normal((2,) + shape).astype(np.float32)
    axis = params.get(1, 0) % len(shape)
    ys = slice_(x, params, len(bounds) - 1)
    for y, lo, hi in zip(ys, bounds, bounds[1:]):
        np.testing.assert_array_equal(y, np.take(x, range(lo, hi), axis=axis + 1))


def test_slices_beyond_the_axis_raise():
    with pytest.raises(NcnnlikeError, match="sl.*does not fit"):
        slice_(np.zeros((1, 4, 2), np.float32), {0: [3, 3]}, 2)
