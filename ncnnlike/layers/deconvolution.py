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
from ncnnlike.layers import conv_params, deconv_nd
from ncnnlike.layers import checks

TYPE = "Deconvolution"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 [19] 20 [21] 5 6 9 [-23310] 28
PARAMS = conv_params.deconvolution(rank=2)
weights = conv_params.weight_and_bias   # no int8 in ncnn for this type


def lower(layer, p, ctx):
    deconv_nd.lower_2d(ctx, layer, p, 1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, deconv=True)
