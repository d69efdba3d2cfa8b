"""Convolution3D vs pip ncnn (the reference kernel): per-axis kernel/stride/dilation/pads, pad_value,
SAME modes (with ncnn's depth-stays-upper SAME_LOWER and its negative borders), bias, every fused
activation, a 3-D bottom as d = 1; float tolerance (sums in another order)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, written_ids
from oracle import check_ncnn
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 6, 8)).astype(np.float32)      # (c, d, h, w)


def line(outc, kernel, params, channels=3):
    """kernel = (kd, kh, kw)."""
    kd, kh, kw = kernel
    return "Convolution3D c 1 1 x y 0=%d 1=%d 11=%d 21=%d 6=%d %s" % (
        outc, kw, kh, kd, outc * channels * kd * kh * kw, params)


@pytest.mark.parametrize("outc,kernel,params", [
    (4, (3, 3, 3), ""),                                          # defaults
    (4, (2, 3, 2), "2=2 12=1 22=2 3=2 13=1 23=2 5=1"),          # dilation and stride per axis
    (3, (3, 2, 3), "4=1 14=0 24=2 15=2 16=1 17=0 5=1"),         # all six pads differ
    (3, (3, 3, 3), "4=1 18=7.500000e-01 5=1"),                  # pad_value
    (4, (3, 3, 2), "3=2 4=-233 5=1"),                           # SAME_UPPER
    (4, (2, 2, 2), "3=2 4=-234 18=-1.000000e+00 5=1"),          # SAME_LOWER: depth still pads at the end
    (2, (3, 1, 1), "3=2 4=-234 5=1"),                           # h/w totals -1: ncnn crops the first column
    (2, (1, 3, 1), "3=2 13=1 23=3 4=-234 18=1.000000e+00"),     # d total -1: ncnn crops the last slice
])
def test_geometry_matches_ncnn(outc, kernel, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, kernel, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, (3, 3, 3), "3=2 4=1 5=1 " + act), {"x": X}, tmp_path,
               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("params", ["4=1 24=0 5=1", "3=2 4=-234 5=1"])
def test_three_d_bottom_runs_as_depth_one(params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, (1, 3, 3), params), {"x": X[:, 0]}, tmp_path, atol=1e-5, rtol=1e-5)


def test_bin_holds_weight_then_bias():
    l = layer("Convolution3D", "c", ["x"], ["y"], {0: 4, 1: 3, 5: 1, 6: 324})
    assert bin_specs(l) == [("weight_data", 324, True), ("bias_data", 4, False)]
    assert [(s.name, s.count) for s in weight_specs(layer("Convolution3D", "c", ["x"], ["y"], {0: 4, 6: 8}))] == [
        ("weight_data", 8)]


def test_params_written_in_modelwriter_order():
    params = {9: 1, 6: 3, 5: 1, 18: 1.0, 17: 3, 16: 4, 15: 2, 24: 2, 14: 3, 4: 1, 23: 3, 13: 2, 3: 1, 22: 3,
              12: 3, 2: 2, 21: 1, 11: 2, 1: 3, 0: 1}
    l = layer("Convolution3D", "c", ["x"], ["y"], params)
    assert written_ids(l) == [0, 1, 11, 21, 2, 12, 22, 13, 23, 4, 14, 24, 15, 16, 17, 18, 5,
                                                      6, 9]


@pytest.mark.parametrize("params,shape,message", [
    ({0: 2, 1: 3, 6: 161}, (3, 5, 6, 8), "weight_data_size 161"),
    ({0: 0, 1: 3, 6: 0}, (3, 5, 6, 8), "num_output must be >= 1"),
    ({0: 2, 1: 3, 6: 162, 4: 1, 24: -233}, (3, 5, 6, 8), "mix positive and negative"),
    ({0: 2, 1: 3, 21: 7, 6: 378}, (3, 5, 6, 8), "along d is larger"),
    ({0: 2, 1: 3, 22: 0, 6: 162}, (3, 5, 6, 8), "dilation_d 0"),
    ({0: 2, 1: 3, 6: 162, 9: 2}, (3, 5, 6, 8), "needs 1 activation_params"),
    ({0: 2, 1: 1, 11: 1, 21: 3, 3: 2, 4: -234, 6: 18}, (3, 5, 4, 14), "negative left border"),
    ({0: 2, 1: 1, 11: 3, 21: 3, 3: 2, 4: -233, 6: 54}, (3, 5, 6, 8), "negative right border"),   # ncnn overruns
    ({0: 2, 1: 3, 6: 18}, (6, 8), "expects a 4-D"),
    ({0: 2, 1: 3, 11: 3, 21: 1, 4: 1, 6: 54}, (3, 6, 8), "3-D bottom with a depth border"),
])
def test_bad_params_raise_naming_the_layer(params, shape, message):
    assert_refused("Convolution3D", "bad_c", params, np.zeros((2,) + shape, np.float32), message)
