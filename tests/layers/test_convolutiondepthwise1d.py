"""ConvolutionDepthWise1D vs pip ncnn (the reference kernel): depthwise (group == channels, with and
without a channel multiplier) and group convolution (1 < group < channels), pads, pad_value, SAME,
bias, every fused activation, dynamic weights; float tolerance (sums in another order)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, written_ids
from oracle import check_ncnn
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 11)).astype(np.float32)      # h = 6 channels, w = 11


def line(outc, k, group, params, channels=6):
    return "ConvolutionDepthWise1D c 1 1 x y 0=%d 1=%d 6=%d 7=%d %s" % (
        outc, k, outc * (channels // group) * k, group, params)


@pytest.mark.parametrize("outc,k,group,params", [
    (6, 3, 6, "4=1 5=1"),                          # depthwise
    (12, 3, 6, "3=2 2=2 4=2 15=0 5=1"),            # depthwise with multiplier 2, dilation, stride
    (4, 3, 2, "4=1 18=-1.000000e+00 5=1"),         # group 2, pad_value
    (9, 2, 3, "3=2 4=-233"),                       # group 3, SAME_UPPER
    (6, 4, 6, "3=3 4=-234 18=2.500000e-01 5=1"),   # SAME_LOWER with pad_value
    (3, 3, 1, "5=1"),                              # group 1: a plain convolution
])
def test_groups_and_geometry_match_ncnn(outc, k, group, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, k, group, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(6, 3, 6, "3=2 4=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("group,bias", [(6, 1), (2, 0)])
def test_dynamic_weight_and_bias_bottoms_match_ncnn(group, bias, tmp_path):
    feeds = {"x": X, "w": RNG.standard_normal((6, 6 // group, 3)).astype(np.float32)}
    if bias:
        feeds["b"] = RNG.standard_normal(6).astype(np.float32)
    text = "Input in 0 %d %s\nConvolutionDepthWise1D c %d 1 %s y 0=6 1=3 3=2 4=1 5=%d 7=%d 19=1 9=1" % (
        len(feeds), " ".join(feeds), len(feeds), " ".join(feeds), bias, group)
    check_ncnn(text, feeds, tmp_path, atol=1e-5, rtol=1e-5)


def test_bin_holds_weight_then_bias_and_nothing_when_dynamic():
    l = layer("ConvolutionDepthWise1D", "c", ["x"], ["y"], {0: 6, 1: 3, 5: 1, 6: 18, 7: 6, 8: 1})
    assert bin_specs(l) == [("weight_data", 18, True), ("bias_data", 6, False)]
    assert weight_specs(layer("ConvolutionDepthWise1D", "c", ["x", "w"], ["y"], {0: 6, 5: 1, 7: 6, 19: 1})) == []


def test_params_written_in_modelwriter_order():
    l = layer("ConvolutionDepthWise1D", "c", ["x"], ["y"], {19: 1, 9: 1, 7: 2, 6: 3, 5: 1, 18: 1.0, 15: 2, 4: 1,
                                                           3: 2, 2: 2, 1: 3, 0: 2})
    assert written_ids(l) == [0, 1, 2, 3, 4, 15, 18, 5, 6, 7, 9, 19]


@pytest.mark.parametrize("params,message", [
    ({0: 5, 1: 3, 6: 15, 7: 2}, "group 2 must divide channels 6 and num_output 5"),   # ncnn refuses at load
    ({0: 4, 1: 3, 6: 12, 7: 4}, "group 4 must divide channels 6"),                    # ncnn truncates
    ({0: 6, 1: 3, 6: 17, 7: 6}, "weight_data_size 17"),
    ({0: 6, 1: 3, 6: 18, 7: 6, 9: 6}, "needs 2 activation_params"),
])
def test_bad_params_raise_naming_the_layer(params, message):
    assert_refused("ConvolutionDepthWise1D", "bad_dw", params, X[None], message)
