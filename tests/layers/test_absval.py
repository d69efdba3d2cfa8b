"""AbsVal: |x|, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn


@pytest.mark.parametrize("shape", [(17,), (3, 5), (4, 3, 5), (2, 3, 4, 5)])
def test_absval_matches_ncnn_on_every_rank(tmp_path, shape):
    x = np.random.default_rng(0).uniform(-3, 3, shape).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nAbsVal a 1 1 x y", {"x": x}, tmp_path, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], np.abs(x))
