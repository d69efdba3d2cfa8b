"""Deconvolution (spec 3, deconvolution.cpp): params, .bin buffers, and the lowering to ONNX
ConvTranspose through deconv_nd (shared with the 1-D / 3-D layers).

ncnn computes the full output (in - 1) * stride + kernel_extent + output_pad, adds bias, applies the
fused activation, then cut_padding cuts the border: the explicit pads when any is > 0; else, when
output_w and output_h are both > 0, the SAME_UPPER (any pad -233) or SAME_LOWER (any pad -234) split
of full - output; else nothing. output_pad may reach the stride or beyond (deconv_nd pads the extra
rows by hand where onnxruntime's ConvTranspose refuses). Refused, with the layer named: output_w/h
set with no -233/-234 pad (ncnn leaves the top empty and forward returns -100), pads mixing positive
and negative values (ncnn's crop then reads outside the full output), an output larger than the
full one, and dynamic_weight=1 (not supported here).
"""
from ncnnlike.layers import deconv_nd
from ncnnlike.layers.base import Link, Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Deconvolution"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 [19] 20 [21] 5 6 9 [-23310] 28
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "kernel_w", 0),
    Param(11, "kernel_h", Link(1)),
    Param(2, "dilation_w", 1),
    Param(12, "dilation_h", Link(2)),
    Param(3, "stride_w", 1),
    Param(13, "stride_h", Link(3)),
    Param(4, "pad_left", 0),
    Param(14, "pad_top", Link(4)),
    Param(15, "pad_right", Link(4)),
    Param(16, "pad_bottom", Link(14)),
    Param(18, "output_pad_right", 0),
    Param(19, "output_pad_bottom", Link(18)),
    Param(20, "output_w", 0),
    Param(21, "output_h", Link(20)),
    Param(5, "bias_term", 0),
    Param(6, "weight_data_size", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
    Param(28, "dynamic_weight", 0),
)


def weights(p):
    """weight (tagged), then bias raw x num_output; nothing when dynamic_weight (no int8 support)."""
    if p.dynamic_weight:
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    return specs


def lower(layer, p, ctx):
    deconv_nd.lower_2d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
