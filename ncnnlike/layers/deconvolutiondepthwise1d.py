"""DeconvolutionDepthWise1D (deconvolutiondepthwise1d.cpp): Deconvolution1D with 7=group, lowered
to a grouped ONNX ConvTranspose (group == channels is the depthwise case ncnn special-cases; the
maths is the same). With 28=dynamic_weight the weights come from bottom 1 (ONNX layout
inch x outch/group x kernel_w) and the bias from bottom 2. Differences from ncnn: as Deconvolution1D.
"""
from ncnnlike.layers import conv_params, deconv_nd, deconvolution1d
from ncnnlike.layers import checks

TYPE = "DeconvolutionDepthWise1D"

# ModelWriter order: 0 1 2 3 4 [15] 18 20 5 6 7 9 [-23310] 28
PARAMS = conv_params.with_group(deconvolution1d.PARAMS)


def weights(p):
    """Same buffers as Deconvolution1D: weight (tagged), bias raw x num_output."""
    return deconvolution1d.weights(p)


def lower(layer, p, ctx):
    deconv_nd.lower_1d(ctx, layer, p, p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True, deconv=True)
