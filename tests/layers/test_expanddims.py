"""ExpandDims: axes for each input rank (1-D..3-D), negative axes, and ncnn's table for odd axes,
exact against pip ncnn."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,axes", [
    ((5,), "1,0"), ((5,), "1,1"), ((5,), "1,-1"),
    ((5,), "2,0,1"), ((5,), "2,0,2"), ((5,), "2,1,2"), ((5,), "2,-1,0"),
    ((5,), "3,1,2,3"), ((5,), "3,0,2,3"), ((5,), "3,0,1,3"), ((5,), "3,0,1,2"),
    ((3, 4), "1,0"), ((3, 4), "1,1"), ((3, 4), "1,2"), ((3, 4), "1,-1"),
    ((3, 4), "2,2,3"), ((3, 4), "2,0,3"), ((3, 4), "2,0,1"), ((3, 4), "2,1,3"), ((3, 4), "2,0,2"),
    ((3, 4), "2,1,2"),
    ((2, 3, 4), "1,0"), ((2, 3, 4), "1,1"), ((2, 3, 4), "1,2"), ((2, 3, 4), "1,3"), ((2, 3, 4), "1,-2"),
    ((5,), "2,0,0"),            # repeated axis: ncnn's table still gives (1, 1, 5)
    ((3, 4), "1,3"),            # out of range for a 3-D output: unchanged
    ((5,), "1,-4"),
    ((2, 3, 4, 5), "1,0"),      # 5-D is beyond ncnn: unchanged
])
def test_matches_ncnn_exactly(tmp_path, shape, axes):
    check_ncnn("""
    Input      in0 0 1 x
    ExpandDims ed  1 1 x y -23303=%s
    """ % axes, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_distinct_axes_are_numpy_expand_dims(tmp_path):
    outs = check_ncnn("""
    Input      in0 0 1 x
    ExpandDims ed  1 1 x y -23303=2,0,3
    """, {"x": RNG.standard_normal((3, 4))}, tmp_path, atol=0, rtol=0)
    assert outs["y"][0].shape == (2, 1, 3, 4, 1)


@pytest.mark.parametrize("axes", [[4], [-5], [0, 1, 2, 0, 1]])
def test_axes_pip_ncnn_refuses_raise(axes):
    with pytest.raises(NcnnlikeError, match="ed.*ExpandDims.*-4..3"):
        run_layers([layer("ExpandDims", "ed", ["x"], ["y"], {3: axes})], {"x": np.zeros((1, 3), np.float32)})


def test_old_expand_flags_are_ignored_as_in_ncnn(tmp_path):
    outs = check_ncnn("""
    Input      in0 0 1 x
    ExpandDims ed  1 1 x y 0=1 1=1
    """, {"x": RNG.standard_normal((5,))}, tmp_path, atol=0, rtol=0)
    assert outs["y"][0].shape == (2, 5)
