"""DeconvolutionDepthWise3D vs pip ncnn on 4-D (c, d, h, w) blobs: group == channels (ncnn's
depthwise branch) and 1 < group < channels, per-axis geometry, SAME output sizes, fused
activations; float tolerance (ncnn scatters the products in its own order, ONNX in another)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, float_buffers, written_ids
from oracle import check_ncnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3, 4, 5)).astype(np.float32)


def line(outc, group, k, params, channels=4):
    """k = (kd, kh, kw)."""
    size = outc * (channels // group) * k[0] * k[1] * k[2]
    return "DeconvolutionDepthWise3D de 1 1 x y 0=%d 1=%d 11=%d 21=%d 6=%d 7=%d %s" % (
        outc, k[2], k[1], k[0], size, group, params)


def float_weights(outc, group, k, bias=True, channels=4, seed=3):
    """Explicit float buffers (conv_checks.float_buffers)."""
    return float_buffers(outc * (channels // group) * int(np.prod(k)), outc, bias, seed)


@pytest.mark.parametrize("outc,group,k,params", [
    (4, 4, (3, 3, 3), "3=2 4=1 5=1"),                               # depthwise
    (8, 4, (2, 3, 2), "2=2 22=1 3=2 13=1 18=1 20=0 5=1"),           # 2 outputs per channel, output_pad
    (6, 2, (3, 2, 3), "3=2 4=1 14=0 24=2 15=2 16=1 17=0"),          # 1 < group < channels, pads, no bias
    (4, 2, (2, 2, 2), "3=1 18=2 19=3 20=1 5=1"),                    # output_pad beyond ONNX's limit
    (4, 4, (3, 3, 3), "3=2 4=-233 25=9 26=8 27=5 5=1 9=1"),         # SAME_UPPER
    (6, 2, (3, 3, 3), "3=2 4=-234 25=10 26=7 27=6 5=1"),            # SAME_LOWER
])
def test_groups_and_geometry_match_ncnn(outc, group, k, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, group, k, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5,
               weights=float_weights(outc, group, k, bias="5=1" in params))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, 4, (2, 2, 2), "3=2 4=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5,
               rtol=1e-5, weights=float_weights(4, 4, (2, 2, 2)))


def test_bin_sizes_and_group_after_weight_data_size():
    l = layer("DeconvolutionDepthWise3D", "de", ["x"], ["y"], {0: 4, 1: 3, 5: 1, 6: 108, 7: 4, 9: 1})
    assert bin_specs(l) == [("weight_data", 108, True), ("bias_data", 4, False)]
    assert written_ids(l) == [0, 1, 5, 6, 7, 9]


@pytest.mark.parametrize("params,message", [
    ({0: 4, 1: 3, 6: 108, 7: 3}, "group 3 does not divide"),
    ({0: 4, 1: 3, 6: 100, 7: 4}, "weight_data_size 100"),
    ({0: 4, 1: 3, 6: 108, 7: 4, 9: 6, 10: [0.2]}, "needs 2 activation_params"),
])
def test_bad_params_raise_naming_the_layer(params, message):
    assert_refused("DeconvolutionDepthWise3D", "bad_dw", params, X[None], message)
