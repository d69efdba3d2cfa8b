"""Diag: 1-D to matrix and 2-D to diagonal for positive, negative and zero k, exact against pip ncnn."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,k", [
    ((5,), 0), ((5,), 2), ((5,), -3),
    ((4, 4), 0), ((3, 6), 2), ((3, 6), 4), ((3, 6), -2), ((6, 3), -4), ((6, 3), 1), ((6, 3), -1),
])
def test_matches_ncnn_exactly(tmp_path, shape, k):
    outs = check_ncnn("""
    Input in0 0 1 x
    Diag  dg  1 1 x y 0=%d
    """ % k, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)
    assert outs["y"][0].shape[1:] == np.diag(np.zeros(shape), k).shape


@pytest.mark.parametrize("shape,k", [((3, 6), 6), ((3, 6), -3), ((2, 3, 4), 0)])
def test_empty_diagonal_or_3d_blob_raises(shape, k):
    with pytest.raises(NcnnlikeError, match="dg.*Diag"):
        run_layers([layer("Diag", "dg", ["x"], ["y"], {0: k})], {"x": np.zeros((1,) + shape, np.float32)})
