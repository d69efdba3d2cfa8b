"""Reorg: space to depth by stride, both channel orders, exact against pip ncnn (data movement)."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((3, 4, 6), "0=2"),
    ((3, 4, 6), "0=2 1=1"),
    ((2, 6, 9), "0=3"),
    ((2, 5, 7), "0=2"),               # odd sizes: the last row and column are dropped
    ((2, 5, 7), "0=2 1=1"),
    ((2, 3, 3), ""),                  # stride 1: identity
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input in0 0 1 x
    Reorg rg  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_reorg_undoes_pixelshuffle():
    x = RNG.standard_normal((2, 3, 4, 6)).astype(np.float32)
    for mode in (0, 1):
        y = run_layers([layer("Reorg", "rg", ["x"], ["t"], {0: 2, 1: mode}),
                        layer("PixelShuffle", "ps", ["t"], ["y"], {0: 2, 1: mode})], {"x": x})["y"]
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("shape,params", [((3, 4, 4), {0: 5}), ((4, 6), {0: 2}), ((3, 4, 4), {0: 2, 1: 3})])
def test_bad_params_raise(shape, params):
    with pytest.raises(NcnnlikeError, match="rg.*Reorg"):
        run_layers([layer("Reorg", "rg", ["x"], ["y"], params)], {"x": np.zeros((1,) + shape, np.float32)})
