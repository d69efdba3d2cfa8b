"""Deconvolution3D (deconvolution3d.cpp): transposed convolution of a 4-D (c, d, h, w) blob,
lowered to ONNX ConvTranspose over (d, h, w).

The output (num_output, outd, outh, outw) is ncnn's full output cut as cut_padding does (see
deconv_nd); the SAME modes need all of output_w/h/d > 0. ncnn has no dynamic_weight here.
Differences from ncnn: output sizes set without a -233/-234 pad (ncnn's forward fails) and pads
mixing positive and negative values raise an error.
"""
from ncnnlike.layers import conv_params, deconv_nd
from ncnnlike.layers import checks

TYPE = "Deconvolution3D"

# ModelWriter order: 0 1 [11] [21] 2 [12] [22] 3 [13] [23] 4 [14] [24] [15] [16] [17]
#                    18 [19] [20] 25 [26] [27] 5 6 9 [-23310]
PARAMS = conv_params.deconvolution(rank=3)
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    deconv_nd.lower_3d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
