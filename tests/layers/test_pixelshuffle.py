"""PixelShuffle: upscale factors and both channel orders, exact against pip ncnn (data movement)."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((8, 3, 5), "0=2"),               # x86 kernel (r = 2 or 4)
    ((8, 3, 5), "0=2 1=1"),
    ((32, 2, 3), "0=4 1=1"),
    ((18, 2, 3), "0=3"),              # reference kernel
    ((9, 2, 2), "0=3 1=1"),
    ((10, 2, 3), "0=2"),              # 10 channels: the last 2 are ignored
    ((10, 2, 3), "0=2 1=1"),
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input        in0 0 1 x
    PixelShuffle ps  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_mode_0_is_pytorch_pixel_shuffle():
    x = RNG.standard_normal((2, 8, 3, 4)).astype(np.float32)
    y = run_layers([layer("PixelShuffle", "ps", ["x"], ["y"], {0: 2})], {"x": x})["y"]
    ref = x.reshape(2, 2, 2, 2, 3, 4).transpose(0, 1, 4, 2, 5, 3).reshape(2, 2, 6, 8)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("shape,params", [((3, 2, 2), {0: 2}), ((4, 2), {0: 2}), ((8, 2, 2), {0: 2, 1: 2})])
def test_bad_params_raise(shape, params):
    with pytest.raises(NcnnlikeError, match="ps.*PixelShuffle"):
        run_layers([layer("PixelShuffle", "ps", ["x"], ["y"], params)], {"x": np.zeros((1,) + shape, np.float32)})
