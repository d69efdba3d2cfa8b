"""ConvolutionDepthWise1D (convolutiondepthwise1d.cpp; pip ncnn runs the reference): Convolution1D's
params plus 7=group, lowered to a grouped ONNX Conv (group == h is depthwise; 1 < group < h is a group
convolution). dynamic_weight=1 takes the weights (num_output, h / group, kernel_w) as bottom 1.
ncnn refuses num_output % group != 0 at load; a group not dividing h it silently truncates: we refuse
both. No int8 in ncnn for this type (conv_nd.py)."""
from ncnnlike.layers import conv_nd, conv_params
from ncnnlike.layers import checks

TYPE = "ConvolutionDepthWise1D"
# ModelWriter order: as Convolution1D, with 7 after 6
PARAMS = conv_params.with_group(conv_params.convolution(rank=1))
weights = conv_params.weight_and_bias


def lower(layer, p, ctx):
    conv_nd.lower(layer, p, ctx, rank=1, group=p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True)
