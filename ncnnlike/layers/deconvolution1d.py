"""Deconvolution1D (deconvolution1d.cpp): transposed convolution along w of a 2-D (h = channels, w)
blob, lowered to ONNX ConvTranspose; with 28=dynamic_weight the weights come from bottom 1 (ONNX
layout inch x outch x kernel_w) and the bias from bottom 2.

The output (num_output, outw) is ncnn's full output cut as cut_padding does (see deconv_nd). A 1-D
bottom is one channel, as ncnn reads it. Differences from ncnn: output_w set without a -233/-234 pad
(ncnn's forward fails) and pads mixing positive and negative values raise an error.
"""
from ncnnlike.layers import deconv_nd
from ncnnlike.layers.base import Link, Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Deconvolution1D"

# ModelWriter order: 0 1 2 3 4 [15] 18 20 5 6 9 [-23310] 28
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "kernel_w", 0),
    Param(2, "dilation_w", 1),
    Param(3, "stride_w", 1),
    Param(4, "pad_left", 0),
    Param(15, "pad_right", Link(4)),
    Param(18, "output_pad_right", 0),
    Param(20, "output_w", 0),
    Param(5, "bias_term", 0),
    Param(6, "weight_data_size", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
    Param(28, "dynamic_weight", 0),
)


def weights(p):
    """weight (tagged), then bias raw x num_output; nothing with dynamic_weight."""
    if p.dynamic_weight:
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    return specs


def lower(layer, p, ctx):
    deconv_nd.lower_1d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
