"""ArgMax: pip ncnn's build has no ArgMax, so ours is checked against argmax.cpp's maths written out
in numpy (rank (value, index) pairs, largest first; ties: larger index first)."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import make_model

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def reference(x, out_max_val, topk):
    """argmax.cpp on one sample: (1, topk) indices, or (2, topk) values over indices."""
    flat = x.reshape(-1)
    pairs = sorted(((float(v), i) for i, v in enumerate(flat)), reverse=True)[:topk]
    values = np.float32([v for v, _ in pairs])
    index = np.float32([i for _, i in pairs])
    return np.stack([values, index]) if out_max_val else index[None]


def argmax(x, params):
    return run_layers([layer("ArgMax", "am", ["x"], ["y"], params)], {"x": x})["y"]


@pytest.mark.parametrize("shape", [(11,), (3, 7), (2, 3, 4), (2, 2, 3, 4)])
@pytest.mark.parametrize("params", [{}, {0: 1}, {1: 5}, {0: 1, 1: 3}])
def test_matches_argmax_cpp(shape, params):
    x = RNG.standard_normal((2,) + shape).astype(np.float32)
    y = argmax(x, params)
    for i in range(2):
        np.testing.assert_array_equal(y[i], reference(x[i], params.get(0, 0), params.get(1, 1)))


def test_ties_rank_the_larger_index_first():
    x = np.float32([[1, 3, 0, 3, 2, 3]])
    np.testing.assert_array_equal(argmax(x, {0: 1, 1: 4}), [[[3, 3, 3, 2], [5, 3, 1, 4]]])


@pytest.mark.parametrize("topk", [0, 7])
def test_topk_out_of_range_raises(topk):
    with pytest.raises(NcnnlikeError, match="am.*ArgMax.*topk"):
        argmax(np.zeros((1, 2, 3), np.float32), {1: topk})


def test_pip_ncnn_does_not_have_argmax(tmp_path):
    import ncnn
    param, binfile, _ = make_model("""
    Input  in0 0 1 x
    ArgMax am  1 1 x y
    """, tmp_path)
    assert ncnn.Net().load_param(param) != 0
