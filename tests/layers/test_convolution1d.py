"""Convolution1D vs pip ncnn (its x86 kernel): kernel/stride/dilation/pads, pad_value, SAME modes,
bias, every fused activation, dynamic weights; float tolerance (the x86 kernel sums in its own order
and approximates exp in the fused sigmoid/mish)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, written_ids
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 11)).astype(np.float32)      # h = 6 channels, w = 11


def line(outc, k, params, channels=6):
    return "Convolution1D c 1 1 x y 0=%d 1=%d 6=%d %s" % (outc, k, outc * channels * k, params)


@pytest.mark.parametrize("outc,k,params", [
    (4, 3, ""),                                   # defaults: stride 1, no pad, no bias
    (5, 3, "2=2 3=2 5=1"),                        # dilation, stride, bias
    (4, 4, "3=3 4=1 15=2 5=1"),                   # asymmetric explicit pads
    (4, 3, "4=2 18=1.500000e+00 5=1"),            # pad_value
    (8, 3, "3=2 4=-233 5=1"),                     # SAME_UPPER (odd total: extra at the end)
    (4, 4, "3=3 4=-234 18=-2.000000e+00"),        # SAME_LOWER with pad_value
    (16, 1, "3=2 4=-233 5=1"),                    # total < 0: no border
])
def test_geometry_matches_ncnn(outc, k, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, k, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, 3, "3=2 4=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias,pads", [(0, "4=1"), (1, "4=-233 18=5.000000e-01")])
def test_dynamic_weight_and_bias_bottoms_match_ncnn(bias, pads, tmp_path):
    feeds = {"x": X, "w": RNG.standard_normal((5, 6, 3)).astype(np.float32)}   # (num_output, h, kernel_w)
    if bias:
        feeds["b"] = RNG.standard_normal(5).astype(np.float32)
    text = "Input in 0 %d %s\nConvolution1D c %d 1 %s y 0=5 1=3 3=2 %s 5=%d 19=1 9=1" % (
        len(feeds), " ".join(feeds), len(feeds), " ".join(feeds), pads, bias)
    check_ncnn(text, feeds, tmp_path, atol=1e-5, rtol=1e-5)


def test_int8_scale_term_is_ignored_like_ncnn(tmp_path):
    """ncnn's Convolution1D never reads id 8 nor any int8 scale buffer: float weights still run."""
    rng = np.random.default_rng(5)
    weights = {"c": {"weight_data": rng.normal(0, 0.3, 72).astype(np.float32),
                     "bias_data": rng.normal(0, 0.3, 4).astype(np.float32)}}
    check_ncnn("Input in 0 1 x\n" + line(4, 3, "5=1 8=2"), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5,
               weights=weights, int8=True)


def test_bin_holds_weight_then_bias_and_nothing_when_dynamic():
    l = layer("Convolution1D", "c", ["x"], ["y"], {0: 4, 1: 3, 5: 1, 6: 72, 8: 2})
    assert bin_specs(l) == [("weight_data", 72, True), ("bias_data", 4, False)]
    assert weight_specs(layer("Convolution1D", "c", ["x", "w"], ["y"], {0: 4, 5: 1, 19: 1})) == []


def test_params_written_in_modelwriter_order():
    l = layer("Convolution1D", "c", ["x"], ["y"], {19: 1, 9: 1, 6: 3, 5: 1, 18: 1.0, 15: 2, 4: 1, 3: 2, 2: 2,
                                                  1: 3, 0: 1})
    assert written_ids(l) == [0, 1, 2, 3, 4, 15, 18, 5, 6, 9, 19]


@pytest.mark.parametrize("params,shape,message", [
    ({0: 4, 1: 3, 6: 71}, (6, 11), "weight_data_size 71"),
    ({0: 4, 1: 3, 6: 72, 4: 1, 15: -233}, (6, 11), "mix positive and negative"),
    ({0: 4, 1: 13, 6: 312}, (6, 11), "larger than the padded size"),
    ({0: 4, 1: 3, 6: 72, 3: 0}, (6, 11), "stride_w 0"),
    ({0: 4, 1: 3, 6: 72, 9: 7}, (6, 11), "activation_type 7"),
    ({0: 4, 1: 3, 6: 72, 9: 3}, (6, 11), "needs 2 activation_params"),
    ({0: 4, 1: 3, 6: 12}, (11,), "expects a 2-D"),          # pip ncnn's x86 kernel crashes on it
    ({0: 4, 1: 3, 6: 72}, (6, 1, 11), "expects a 2-D"),
])
def test_bad_params_raise_naming_the_layer(params, shape, message):
    assert_refused("Convolution1D", "bad_c", params, np.zeros((2,) + shape, np.float32), message)


def test_dynamic_weight_of_wrong_shape_raises():
    l = layer("Convolution1D", "dyn", ["x", "w"], ["y"], {0: 4, 1: 3, 19: 1})
    with pytest.raises(NcnnlikeError, match="dyn.*Convolution1D.*3-D weight bottom"):
        run_layers([l], {"x": np.zeros((2, 6, 11), np.float32), "w": np.zeros((2, 4, 5, 3), np.float32)})
