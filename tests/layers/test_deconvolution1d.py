"""Deconvolution1D vs pip ncnn: kernel/stride/dilation, pads, output_pad, SAME output_w, bias,
every fused activation, dynamic weights; float tolerance (ncnn scatters the products in its own
order, ONNX ConvTranspose in another)."""
import numpy as np
import pytest

from helpers import layer
from conv_checks import ACTIVATIONS, assert_refused, bin_specs, float_buffers, written_ids
from oracle import check_ncnn
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 7)).astype(np.float32)


def line(outc, k, params, channels=6):
    return "Deconvolution1D de 1 1 x y 0=%d 1=%d 6=%d %s" % (outc, k, outc * channels * k, params)


def float_weights(outc, k, channels=6, bias=True, seed=3):
    """Explicit float buffers (conv_checks.float_buffers)."""
    return float_buffers(outc * channels * k, outc, bias, seed)


@pytest.mark.parametrize("outc,k,params", [
    (4, 3, ""),                                   # defaults: stride 1, no cut, no bias
    (5, 3, "2=2 3=2 5=1"),                        # dilation, stride, bias
    (4, 4, "3=2 4=1 5=1"),                        # symmetric cut
    (4, 3, "3=3 4=2 15=0 18=2 5=1"),              # left-only cut, output_pad
    (3, 2, "3=2 18=3 5=1"),                       # output_pad beyond ONNX's limit (stride 2)
    (4, 3, "3=2 4=-233 20=12 5=1"),               # SAME_UPPER to output_w
    (4, 3, "3=2 15=-234 20=12 5=1"),              # SAME_LOWER (any pad equal to -234)
])
def test_geometry_matches_ncnn(outc, k, params, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(outc, k, params), {"x": X}, tmp_path, atol=1e-5, rtol=1e-5,
               weights=float_weights(outc, k, bias="5=1" in params))


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(4, 3, "3=2 4=1 18=1 5=1 " + act), {"x": X}, tmp_path, atol=1e-5,
               rtol=1e-5, weights=float_weights(4, 3))


def test_one_d_bottom_is_one_channel(tmp_path):
    check_ncnn("Input in 0 1 x\n" + line(3, 3, "3=2 5=1", channels=1), {"x": X[0]}, tmp_path, atol=1e-5,
               weights=float_weights(3, 3, channels=1))


@pytest.mark.parametrize("bias", [0, 1])
def test_dynamic_weight_and_bias_bottoms_match_ncnn(bias, tmp_path):
    w = RNG.standard_normal((6, 4, 3)).astype(np.float32)          # ONNX layout inch x outch x k
    feeds = {"x": X, "w": w}
    bottoms = "2 1 x w"
    if bias:
        feeds["b"] = RNG.standard_normal(4).astype(np.float32)
        bottoms = "3 1 x w b"
    text = "Input in 0 %d %s\nDeconvolution1D de %s y 0=4 1=3 3=2 4=1 18=1 5=%d 28=1 9=1" % (
        len(feeds), " ".join(feeds), bottoms, bias)
    check_ncnn(text, feeds, tmp_path, atol=1e-5, rtol=1e-5)


def test_bin_holds_weight_then_bias_and_nothing_when_dynamic():
    l = layer("Deconvolution1D", "de", ["x"], ["y"], {0: 4, 1: 3, 5: 1, 6: 72})
    assert bin_specs(l) == [("weight_data", 72, True), ("bias_data", 4, False)]
    assert weight_specs(layer("Deconvolution1D", "de", ["x", "w"], ["y"], {0: 4, 5: 1, 28: 1})) == []


def test_params_written_in_modelwriter_order():
    l = layer("Deconvolution1D", "de", ["x"], ["y"], {28: 1, 9: 1, 6: 3, 5: 1, 20: 4, 18: 1, 15: 2, 4: 1, 0: 1})
    assert written_ids(l) == [0, 4, 15, 18, 20, 5, 6, 9, 28]


@pytest.mark.parametrize("params,message", [
    ({0: 4, 1: 3, 6: 71}, "weight_data_size 71"),
    ({0: 4, 1: 3, 6: 72, 20: 9}, "no pad is -233/-234"),
    ({0: 4, 1: 3, 6: 72, 4: 1, 15: -233}, "mix positive and negative"),
    ({0: 4, 1: 3, 6: 72, 4: 5}, "leaves nothing"),
    ({0: 4, 1: 3, 6: 72, 9: 7}, "activation_type 7"),
    ({0: 4, 1: 3, 6: 72, 9: 2}, "needs 1 activation_params"),
])
def test_bad_params_raise_naming_the_layer(params, message):
    assert_refused("Deconvolution1D", "bad_de", params, X[None], message)
