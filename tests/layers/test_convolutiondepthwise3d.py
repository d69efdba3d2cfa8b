"""ConvolutionDepthWise3D vs pip ncnn (the reference kernel): depthwise (group == channels, with and
without a channel multiplier) and group convolution (1 < group < channels), per-axis geometry,
pad_value, SAME (with ncnn's depth-stays-upper SAME_LOWER and negative borders), bias, every fused
activation; float tolerance (sums in another order)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, written_ids
from oracle import check_ncnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5, 6, 8)).astype(np.float32)      # (c, d, h, w)


def line(outc, kernel, group, params, channels=4):
    kd, kh, kw = kernel
    return "ConvolutionDepthWise3D c 1 1 x y 0=%d 1=%d 11=%d 21=%d 6=%d 7=%d %s" % (
        outc, kw, kh, kd, outc * (channels // group) * kd * kh * kw, group, params)


@pytest.mark.parametrize("outc,kernel,group,params", [
    (4, (3, 3, 3), 4, "4=1 5=1"),                                    # depthwise
    (8, (2, 3, 3), 4, "2=2 12=1 22=2 3=2 13=1 23=2 5=1"),            # multiplier 2, per-axis dilation/stride
    (6, (3, 2, 3), 2, "4=1 14=0 24=2 15=2 16=1 17=0 18=5.000000e-01 5=1"),   # group 2, six pads, pad_value
    (4, (2, 2, 2), 4, "3=2 4=-234 5=1"),                             # SAME_LOWER: depth pads at the end
    (4, (3, 3, 2), 2, "3=2 4=-233"),                                 # SAME_UPPER, group 2
    (4, (1, 3, 1), 4, "3=2 13=1 23=3 4=-234 18=1.000000e+00"),       # negative d/w totals: ncnn crops
    (3, (3, 3, 3), 1, "4=1 5=1"),                                    # group 1: a plain convolution
])
def test_groups_and_geometry_match_ncnn(outc, kernel, group, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, kernel, group, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, (3, 3, 3), 4, "3=2 4=1 5=1 " + act), {"x": X}, tmp_path,
               atol=1e-5, rtol=1e-5)


def test_three_d_bottom_runs_as_depth_one(tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, (1, 3, 3), 4, "4=1 24=0 5=1"), {"x": X[:, 0]}, tmp_path,
               atol=1e-5, rtol=1e-5)


def test_bin_holds_weight_then_bias():
    l = layer("ConvolutionDepthWise3D", "c", ["x"], ["y"], {0: 4, 1: 3, 5: 1, 6: 108, 7: 4, 8: 1})
    assert bin_specs(l) == [("weight_data", 108, True), ("bias_data", 4, False)]


def test_params_written_in_modelwriter_order():
    l = layer("ConvolutionDepthWise3D", "c", ["x"], ["y"], {9: 1, 7: 2, 6: 3, 5: 1, 17: 2, 24: 1, 21: 2, 1: 3, 0: 2})
    assert written_ids(l) == [0, 1, 21, 24, 17, 5, 6, 7, 9]


@pytest.mark.parametrize("params,message", [
    ({0: 6, 1: 3, 6: 81, 7: 3}, "group 3 must divide channels 4"),          # ncnn truncates channels / group
    ({0: 5, 1: 3, 6: 270, 7: 2}, "num_output 5"),
    ({0: 4, 1: 3, 6: 107, 7: 4}, "weight_data_size 107"),
    ({0: 4, 1: 3, 6: 108, 7: 4, 9: 9}, "unknown activation_type 9"),
])
def test_bad_params_raise_naming_the_layer(params, message):
    assert_refused("ConvolutionDepthWise3D", "bad_dw", params, X[None], message)
