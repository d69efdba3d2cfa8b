"""DeepCopy: an exact copy of 1-D..4-D blobs, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4), (2, 2, 3, 4)])
def test_matches_ncnn_exactly(tmp_path, shape):
    check_ncnn("""
    Input    in0 0 1 x
    DeepCopy dc  1 1 x y
    """, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)
