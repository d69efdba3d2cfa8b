"""Convolution3D (convolution3d.cpp; no x86 kernel, pip ncnn runs the reference): a 3-D convolution
over a 4-D blob (c, d, h, w), lowered to ONNX Conv. A 3-D blob (c, h, w) runs as d = 1, as ncnn's Mat.
No dynamic_weight and no int8 in ncnn for this type. SAME_LOWER (-234) pads depth as SAME_UPPER,
like ncnn (nd_geometry.same_borders). Geometry and lowering: conv_nd.py, nd_geometry.py."""
from ncnnlike.layers import conv_nd, conv_params
from ncnnlike.layers import checks

TYPE = "Convolution3D"
# ModelWriter order: 0 1 [11 21] 2 [12 22] 3 [13 23] 4 [14 24] [15] [16] [17] 18 5 6 9 [10]
PARAMS = conv_params.convolution(rank=3)
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    conv_nd.lower(layer, p, ctx, rank=3, group=1)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p)
