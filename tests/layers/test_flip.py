"""Flip: axes on 1-D..4-D blobs (negative, several, none), exact against pip ncnn."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,axes", [
    ((7,), "1,0"), ((7,), "1,3"),                          # 1-D: reversed whatever the axis
    ((3, 4), "1,0"), ((3, 4), "1,1"), ((3, 4), "2,0,1"), ((3, 4), "1,-1"), ((3, 4), "1,3"),
    ((2, 3, 4), "1,0"), ((2, 3, 4), "2,1,2"), ((2, 3, 4), "2,0,2"), ((2, 3, 4), "1,-2"),
    ((2, 3, 4, 5), "4,0,1,2,3"), ((2, 3, 4, 5), "1,1"), ((2, 3, 4, 5), "2,-1,0"),
])
def test_matches_ncnn_exactly(tmp_path, shape, axes):
    check_ncnn("""
    Input in0 0 1 x
    Flip  fl  1 1 x y -23300=%s
    """ % axes, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_no_axes_is_identity(tmp_path):
    check_ncnn("""
    Input in0 0 1 x
    Flip  fl  1 1 x y
    """, {"x": RNG.standard_normal((2, 3, 4))}, tmp_path, atol=0, rtol=0)


@pytest.mark.parametrize("axes", [[4], [-4], [0, 1, 2, 0, 1]])
def test_bad_axes_raise(axes):
    with pytest.raises(NcnnlikeError, match="fl.*Flip"):
        run_layers([layer("Flip", "fl", ["x"], ["y"], {0: axes})], {"x": np.zeros((1, 2, 3, 4), np.float32)})
