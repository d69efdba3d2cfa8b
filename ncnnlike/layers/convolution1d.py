"""Convolution1D (convolution1d.cpp, x86/convolution1d_x86.cpp): a 1-D convolution over a 2-D blob
(h = channels, w = length), lowered to ONNX Conv; dynamic_weight=1 takes the weights (num_output,
h, kernel_w) as bottom 1 and the bias as bottom 2. Geometry and lowering: conv_nd.py, nd_geometry.py.
No int8 in ncnn for this type (conv_nd.py). The x86 kernel computes the same sums in another order
and approximates the fused sigmoid/mish/tanh: parity is to float tolerance."""
from ncnnlike.layers import conv_nd
from ncnnlike.layers import checks

TYPE = "Convolution1D"
PARAMS = conv_nd.PARAMS_1D
weights = conv_nd.weights


def lower(layer, p, ctx):
    conv_nd.lower(layer, p, ctx, rank=1, group=1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p)
