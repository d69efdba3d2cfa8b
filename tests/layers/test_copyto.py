"""CopyTo: named offsets and numpy-style starts/axes on 1-D..4-D blobs, exact against pip ncnn."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("self_shape,src_shape,params", [
    ((10,), (4,), "0=3"),
    ((5, 6), (2, 3), "0=2 1=1"),
    ((4, 5, 6), (2, 3, 3), "0=1 1=2 2=1"),
    ((3, 4, 5, 6), (2, 2, 3, 3), "13=1 2=1 1=2 0=3"),
    ((4, 5, 6), (2, 5, 3), "-23309=2,1,-3 -23311=2,0,2"),     # numpy style, negative start
    ((4, 5, 6), (3, 2, 4), "-23309=3,1,-233,2"),              # starts without axes: 0, 1, 2
    ((3, 4, 5, 6), (3, 2, 5, 6), "-23309=1,-2 -23311=1,1"),   # 4-D axis 1 is d
    ((10,), (4,), "-23309=1,-4 -23311=1,0"),
    ((5, 6), (5, 2), "-23309=1,4 -23311=1,-1"),
    ((2, 3, 4), (2, 3, 4), "0=0"),                            # same shape: the top is src
])
def test_matches_ncnn_exactly(tmp_path, self_shape, src_shape, params):
    check_ncnn("""
    Input  in0 0 1 a
    Input  in1 0 1 b
    CopyTo ct  2 1 a b y %s
    """ % params, {"a": RNG.standard_normal(self_shape), "b": RNG.standard_normal(src_shape)},
        tmp_path, atol=0, rtol=0)


@pytest.mark.parametrize("src_shape,params", [
    ((2, 3, 3), {0: 4}),                      # does not fit
    ((3, 3), {}),                             # rank mismatch
    ((2, 3, 3), {9: [1, 1]}),                 # fewer starts than axes
    ((2, 3, 3), {9: [1, 1], 11: [0]}),        # starts and axes of different lengths
    ((2, 3, 3), {9: [1], 11: [5]}),           # axis out of -4..3
])
def test_bad_params_raise(src_shape, params):
    inputs = {"a": np.zeros((1, 4, 5, 6), np.float32), "b": np.zeros((1,) + src_shape, np.float32)}
    with pytest.raises(NcnnlikeError, match="ct.*CopyTo"):
        run_layers([layer("CopyTo", "ct", ["a", "b"], ["y"], params)], inputs)
