"""DeconvolutionDepthWise (spec 3): Deconvolution's params plus 7=group; grouped ONNX ConvTranspose."""
from ncnnlike.layers import deconvolution
from ncnnlike.layers.base import Param

TYPE = "DeconvolutionDepthWise"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 [19] 20 [21] 5 6 7 9 [-23310] 28
PARAMS = tuple(p for q in deconvolution.PARAMS
               for p in ((q, Param(7, "group", 1)) if q.id == 6 else (q,)))

def weights(p):
    """Same buffers as Deconvolution: weight (tagged), bias raw x num_output."""
    return deconvolution.weights(p)


def lower(layer, p, ctx):
    deconvolution.lower_deconv(ctx, layer, p, p.group)
