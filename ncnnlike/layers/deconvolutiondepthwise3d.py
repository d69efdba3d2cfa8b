"""DeconvolutionDepthWise3D (deconvolutiondepthwise3d.cpp): Deconvolution3D with 7=group, lowered
to a grouped ONNX ConvTranspose over (d, h, w). Differences from ncnn: as Deconvolution3D.
"""
from ncnnlike.layers import conv_params, deconv_nd, deconvolution3d
from ncnnlike.layers import checks

TYPE = "DeconvolutionDepthWise3D"

# ModelWriter order: as Deconvolution3D, with 7 after 6
PARAMS = conv_params.with_group(deconvolution3d.PARAMS)


def weights(p):
    """Same buffers as Deconvolution3D: weight (tagged), bias raw x num_output."""
    return deconvolution3d.weights(p)


def lower(layer, p, ctx):
    deconv_nd.lower_3d(ctx, layer, p, p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True, deconv=True)
