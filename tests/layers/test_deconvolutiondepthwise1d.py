"""DeconvolutionDepthWise1D vs pip ncnn: group == channels (ncnn's depthwise branch) and
1 < group < channels, geometry, SAME output_w, fused activations, dynamic weights; float tolerance
(ncnn scatters the products in its own order, ONNX ConvTranspose in another)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, float_buffers, written_ids
from oracle import check_ncnn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 7)).astype(np.float32)


def line(outc, group, k, params, channels=6):
    size = outc * (channels // group) * k
    return "DeconvolutionDepthWise1D de 1 1 x y 0=%d 1=%d 6=%d 7=%d %s" % (outc, k, size, group, params)


def float_weights(outc, group, k, bias=True, channels=6, seed=3):
    """Explicit float buffers (conv_checks.float_buffers)."""
    return float_buffers(outc * (channels // group) * k, outc, bias, seed)


@pytest.mark.parametrize("outc,group,k,params", [
    (6, 6, 3, "3=2 4=1 5=1"),                      # depthwise: group == channels == num_output
    (12, 6, 3, "2=2 3=2 18=1 5=1"),                # group == channels, 2 outputs per group
    (4, 2, 4, "3=2 4=1 15=2"),                     # 1 < group < channels, asymmetric cut, no bias
    (6, 3, 2, "3=3 18=4 5=1"),                     # output_pad beyond ONNX's limit
    (6, 6, 3, "3=2 4=-233 20=13 5=1"),             # SAME_UPPER
    (6, 3, 3, "3=2 4=-234 20=13 5=1 9=1"),         # SAME_LOWER
])
def test_groups_and_geometry_match_ncnn(outc, group, k, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, group, k, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5,
               weights=float_weights(outc, group, k, bias="5=1" in params))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(6, 3, 3, "3=2 4=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5,
               rtol=1e-5, weights=float_weights(6, 3, 3))


@pytest.mark.parametrize("group,outc,bias", [(6, 6, 1), (2, 4, 0), (3, 6, 1)])
def test_dynamic_weight_matches_ncnn(group, outc, bias, tmp_path):
    w = RNG.standard_normal((6, outc // group, 3)).astype(np.float32)   # ONNX layout inch x outch/g x k
    feeds = {"x": X, "w": w}
    if bias:
        feeds["b"] = RNG.standard_normal(outc).astype(np.float32)
    text = "Input in 0 %d %s\nDeconvolutionDepthWise1D de %d 1 %s y 0=%d 1=3 3=2 4=1 5=%d 7=%d 28=1 9=1" % (
        len(feeds), " ".join(feeds), len(feeds), " ".join(feeds), outc, bias, group)
    check_ncnn(text, feeds, tmp_path, atol=1e-5, rtol=1e-5)


def test_bin_sizes_and_group_after_weight_data_size():
    l = layer("DeconvolutionDepthWise1D", "de", ["x"], ["y"], {0: 6, 1: 3, 5: 1, 6: 18, 7: 6, 9: 1})
    assert bin_specs(l) == [("weight_data", 18, True), ("bias_data", 6, False)]
    assert written_ids(l) == [0, 1, 5, 6, 7, 9]


@pytest.mark.parametrize("params,message", [
    ({0: 6, 1: 3, 6: 18, 7: 4}, "group 4 does not divide"),
    ({0: 6, 1: 3, 6: 17, 7: 6}, "weight_data_size 17"),
    ({0: 6, 1: 3, 6: 18, 7: 6, 28: 1}, "takes 2 bottoms"),
])
def test_bad_params_raise_naming_the_layer(params, message):
    assert_refused("DeconvolutionDepthWise1D", "bad_dw", params, X[None], message)
