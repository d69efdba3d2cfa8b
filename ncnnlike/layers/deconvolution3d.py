"""Deconvolution3D (deconvolution3d.cpp): transposed convolution of a 4-D (c, d, h, w) blob,
lowered to ONNX ConvTranspose over (d, h, w).

The output (num_output, outd, outh, outw) is ncnn's full output cut as cut_padding does (see
deconv_nd); the SAME modes need all of output_w/h/d > 0. ncnn has no dynamic_weight here.
Differences from ncnn: output sizes set without a -233/-234 pad (ncnn's forward fails) and pads
mixing positive and negative values raise an error.
"""
from ncnnlike.layers import deconv_nd
from ncnnlike.layers.base import Link, Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Deconvolution3D"

# ModelWriter order: 0 1 [11] [21] 2 [12] [22] 3 [13] [23] 4 [14] [24] [15] [16] [17]
#                    18 [19] [20] 25 [26] [27] 5 6 9 [-23310]
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "kernel_w", 0),
    Param(11, "kernel_h", Link(1)),
    Param(21, "kernel_d", Link(1)),
    Param(2, "dilation_w", 1),
    Param(12, "dilation_h", Link(2)),
    Param(22, "dilation_d", Link(2)),
    Param(3, "stride_w", 1),
    Param(13, "stride_h", Link(3)),
    Param(23, "stride_d", Link(3)),
    Param(4, "pad_left", 0),
    Param(14, "pad_top", Link(4)),
    Param(24, "pad_front", Link(4)),
    Param(15, "pad_right", Link(4)),
    Param(16, "pad_bottom", Link(14)),
    Param(17, "pad_behind", Link(24)),
    Param(18, "output_pad_right", 0),
    Param(19, "output_pad_bottom", Link(18)),
    Param(20, "output_pad_behind", Link(18)),
    Param(25, "output_w", 0),
    Param(26, "output_h", Link(25)),
    Param(27, "output_d", Link(25)),
    Param(5, "bias_term", 0),
    Param(6, "weight_data_size", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
)


def weights(p):
    """weight (tagged), then bias raw x num_output."""
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    return specs


def lower(layer, p, ctx):
    deconv_nd.lower_3d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
