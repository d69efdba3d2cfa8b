"""Unfold (im2col) vs pip ncnn, exact (pure data movement): kernel/dilation/stride per axis,
explicit pads with pad_value, SAME_UPPER/SAME_LOWER, 2-D and 3-D bottoms."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 7, 8)).astype(np.float32)


@pytest.mark.parametrize("params", [
    "1=3",                                          # defaults: stride 1, no pads
    "1=2 11=3 2=2 12=1 3=2 13=3",                   # kernel, dilation, stride per axis
    "1=3 4=1 18=-2.500000e+00",                     # pads with pad_value
    "1=3 4=2 14=0 15=1 16=3 18=1.000000e+00",       # every pad on its own
    "1=3 4=-1 14=-1 15=-1 16=-1",                   # negative pads, none > 0: no padding
    "1=3 3=2 4=-233 18=9.000000e+00",               # SAME_UPPER
    "1=2 11=3 3=3 13=2 4=-234 14=-234 15=-234 16=-234 18=9.000000e+00",   # SAME_LOWER
    "1=1 3=3 13=1 4=-233",                          # SAME totals h 0, w -1: no padding
    "1=3 4=-233 15=0",                              # -233 on some pads only: no padding
])
def test_im2col_matches_ncnn_exactly(params, tmp_path):
    check_ncnn("Input in 0 1 x\nUnfold uf 1 1 x y " + params, {"x": X}, tmp_path, atol=0, rtol=0)


def test_two_d_bottom_is_one_channel(tmp_path):
    check_ncnn("Input in 0 1 x\nUnfold uf 1 1 x y 1=2 3=2 4=1", {"x": X[0]}, tmp_path, atol=0, rtol=0)


def test_params_in_modelwriter_order():
    l = layer("Unfold", "uf", ["x"], ["y"], {18: 1.0, 16: 2, 4: 1, 13: 2, 1: 3})
    assert [pid for pid, _ in explicit_params(l)] == [1, 13, 4, 16, 18]


@pytest.mark.parametrize("shape,params,message", [
    ((3, 7, 8), {1: 9}, "does not fit"),
    ((3, 7, 8), {1: 3, 3: 0}, "must be >= 1"),
    ((3, 7, 8), {1: 3, 4: 2, 14: -1}, r"negative side"),
    ((3, 7, 8), {1: 1, 11: 3, 3: 3, 13: 1, 4: -233}, r"border .* \(1, 1, 0, -1\) has a negative side"),
    ((2, 3, 7, 8), {1: 3}, "expects a 3-D"),
])
def test_bad_params_raise_naming_the_layer(shape, params, message):
    l = layer("Unfold", "bad_uf", ["x"], ["y"], params)
    with pytest.raises(NcnnlikeError, match="bad_uf.*Unfold.*" + message):
        run_layers([l], {"x": np.zeros((1,) + shape, np.float32)})
