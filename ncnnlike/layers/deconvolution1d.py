"""Deconvolution1D (deconvolution1d.cpp): transposed convolution along w of a 2-D (h = channels, w)
blob, lowered to ONNX ConvTranspose; with 28=dynamic_weight the weights come from bottom 1 (ONNX
layout inch x outch x kernel_w) and the bias from bottom 2.

The output (num_output, outw) is ncnn's full output cut as cut_padding does (see deconv_nd). A 1-D
bottom is one channel, as ncnn reads it. Differences from ncnn: output_w set without a -233/-234 pad
(ncnn's forward fails) and pads mixing positive and negative values raise an error.
"""
from ncnnlike.layers import conv_params, deconv_nd
from ncnnlike.layers import checks

TYPE = "Deconvolution1D"

# ModelWriter order: 0 1 2 3 4 [15] 18 20 5 6 9 [-23310] 28
PARAMS = conv_params.deconvolution(rank=1)
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    deconv_nd.lower_1d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
