"""CumulativeSum: every axis of 1-D..4-D blobs, negative axes, against pip ncnn.

Along any axis but w both add whole rows / planes in order: exact. Along w pip ncnn's x86 kernel
sums blocks of 16/8/4 with in-register prefix sums (cumulativesum_x86, newer than the checked-out
source) whose adds -ffast-math may reassociate; ours adds in order: within a few float32 ulps."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,axis", [
    ((37,), 0), ((37,), 3),                       # 1-D: axis ignored
    ((7,), 0), ((64, 3), 1),
    ((5, 9), 0), ((5, 9), 1), ((5, 9), -1),
    ((4, 5, 9), 0), ((4, 5, 9), 1), ((4, 5, 9), 2), ((4, 5, 9), -3),
    ((3, 4, 5, 6), 0), ((3, 4, 5, 6), 1), ((3, 4, 5, 6), 2), ((3, 4, 5, 6), 3),
])
def test_matches_ncnn(tmp_path, shape, axis):
    along_w = len(shape) == 1 or axis % len(shape) == len(shape) - 1
    tol = 4e-6 if along_w else 0
    check_ncnn("""
    Input         in0 0 1 x
    CumulativeSum cs  1 1 x y 0=%d
    """ % axis, {"x": RNG.standard_normal(shape)}, tmp_path, atol=tol, rtol=tol)


@pytest.mark.parametrize("axis", [3, -4])
def test_axis_out_of_range_raises(axis):
    with pytest.raises(NcnnlikeError, match="cs.*CumulativeSum"):
        run_layers([layer("CumulativeSum", "cs", ["x"], ["y"], {0: axis})], {"x": np.zeros((1, 2, 3, 4), np.float32)})
