"""ConvolutionDepthWise3D (convolutiondepthwise3d.cpp; pip ncnn runs the reference): Convolution3D's
params plus 7=group, lowered to a grouped ONNX Conv over a 4-D blob (c, d, h, w) (a 3-D blob runs as
d = 1). ncnn checks no group at all (it truncates channels / group): we refuse a group that does not
divide channels and num_output. No dynamic_weight and no int8 in ncnn for this type. SAME_LOWER pads
depth as SAME_UPPER, like ncnn (nd_geometry.same_borders)."""
from ncnnlike.layers import conv_nd, conv_params
from ncnnlike.layers import checks

TYPE = "ConvolutionDepthWise3D"
# ModelWriter order: as Convolution3D, with 7 after 6
PARAMS = conv_params.with_group(conv_params.convolution(rank=3))
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    conv_nd.lower(layer, p, ctx, rank=3, group=p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True)
