"""Deconvolution3D vs pip ncnn on 4-D (c, d, h, w) blobs: kernel/stride/dilation/pad per axis,
output_pad per axis, SAME output_w/h/d, bias, fused activations; float tolerance (ncnn scatters
the products in its own order, ONNX ConvTranspose in another)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, float_buffers, written_ids
from oracle import check_ncnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 4, 5)).astype(np.float32)


def line(outc, k, params, channels=4):
    """k = (kd, kh, kw)."""
    size = outc * channels * k[0] * k[1] * k[2]
    return "Deconvolution3D de 1 1 x y 0=%d 1=%d 11=%d 21=%d 6=%d %s" % (outc, k[2], k[1], k[0], size, params)


def float_weights(outc, k, bias=True, channels=4, seed=3):
    """Explicit float buffers (conv_checks.float_buffers)."""
    return float_buffers(outc * channels * int(np.prod(k)), outc, bias, seed, std=0.2)


@pytest.mark.parametrize("outc,k,params", [
    (3, (2, 3, 2), ""),                                             # defaults, kernel per axis
    (3, (3, 3, 3), "2=1 12=2 22=2 3=2 13=1 23=2 5=1"),              # dilation and stride per axis
    (2, (3, 2, 3), "3=2 4=1 14=0 24=2 15=2 16=1 17=0 5=1"),         # every pad on its own
    (2, (2, 2, 2), "3=2 18=1 19=0 20=1 5=1"),                       # output_pad per axis
    (2, (2, 3, 2), "3=2 13=3 23=1 18=1 19=3 20=0 5=1"),             # output_pad beyond ONNX's limit
    (3, (3, 3, 3), "3=2 4=-233 25=9 26=8 27=5 5=1"),                # SAME_UPPER to output w/h/d
    (3, (3, 3, 3), "3=2 17=-234 25=10 26=7 27=6 5=1"),              # SAME_LOWER (any pad -234)
    (3, (3, 3, 3), "3=2 4=-233 25=7 26=8 5=1"),                     # output_d links to output_w
])
def test_geometry_matches_ncnn(outc, k, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, k, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5,
               weights=float_weights(outc, k, bias="5=1" in params))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(3, (2, 2, 2), "3=2 4=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5,
               rtol=1e-5, weights=float_weights(3, (2, 2, 2)))


def test_bin_sizes_and_writer_order():
    l = layer("Deconvolution3D", "de", ["x"], ["y"], {0: 2, 1: 2, 21: 3, 5: 1, 6: 48, 20: 1, 24: 1, 27: 4, 9: 1})
    assert bin_specs(l) == [("weight_data", 48, True), ("bias_data", 2, False)]
    assert written_ids(l) == [0, 1, 21, 24, 20, 27, 5, 6, 9]


@pytest.mark.parametrize("shape,params,message", [
    ((4, 4, 5), {0: 2, 1: 2, 6: 64}, "expects a 4-D"),
    ((4, 3, 4, 5), {0: 2, 1: 2, 6: 63}, "weight_data_size 63"),
    ((4, 3, 4, 5), {0: 2, 1: 2, 6: 64, 25: 4}, "no pad is -233/-234"),
    ((4, 3, 4, 5), {0: 2, 1: 2, 6: 64, 4: -233, 25: 40}, "larger than the full output"),
])
def test_bad_params_raise_naming_the_layer(shape, params, message):
    assert_refused("Deconvolution3D", "bad_de", params, np.zeros((1,) + shape, np.float32), message)
