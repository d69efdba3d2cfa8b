"""Convolution1D (convolution1d.cpp, x86/convolution1d_x86.cpp): a 1-D convolution over a 2-D blob
(h = channels, w = length), lowered to ONNX Conv; dynamic_weight=1 takes the weights (num_output,
h, kernel_w) as bottom 1 and the bias as bottom 2. Geometry and lowering: conv_nd.py, nd_geometry.py.
No int8 in ncnn for this type (conv_nd.py). The x86 kernel computes the same sums in another order
and approximates the fused sigmoid/mish/tanh: parity is to float tolerance."""
from ncnnlike.layers import conv_nd, conv_params
from ncnnlike.layers import checks

TYPE = "Convolution1D"
# ModelWriter order (modelwriter.h): 0 1 2 3 4 [15] 18 5 6 9 [10] 19
PARAMS = conv_params.convolution(rank=1)
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    conv_nd.lower(layer, p, ctx, rank=1, group=1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p)
