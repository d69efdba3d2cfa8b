"""DeconvolutionDepthWise (spec 3): Deconvolution's params plus 7=group, lowered as Deconvolution
(deconv_nd.lower_2d) to a grouped ONNX ConvTranspose; group must divide channels and num_output."""
from ncnnlike.layers import conv_params, deconv_nd, deconvolution
from ncnnlike.layers import checks

TYPE = "DeconvolutionDepthWise"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 [19] 20 [21] 5 6 7 9 [-23310] 28
PARAMS = conv_params.with_group(deconvolution.PARAMS)


def weights(p):
    """Same buffers as Deconvolution: weight (tagged), bias raw x num_output."""
    return deconvolution.weights(p)


def lower(layer, p, ctx):
    deconv_nd.lower_2d(ctx, layer, p, p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True, deconv=True)
