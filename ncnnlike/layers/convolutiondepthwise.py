"""ConvolutionDepthWise (spec 3): Convolution's params plus 7=group, lowered as Convolution (its
geometry, checks and int8 dispatch: convolution.lower_2d) to a grouped ONNX Conv. group must divide
channels and num_output (ncnn would silently drop the remainder)."""
from ncnnlike.layers import conv_params, convolution
from ncnnlike.layers import checks

TYPE = "ConvolutionDepthWise"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 5 6 7 8 9 [-23310] 19
PARAMS = conv_params.with_group(convolution.PARAMS)


def weights(p):
    """weight (tagged), bias, then int8 scales by int8_scale_term (spec 3, convolutiondepthwise.cpp):
    1/101: group weight scales + 1 bottom; 2/102: 1 weight scale + 1 bottom; > 100: 1 top."""
    if p.dynamic_weight:
        return []
    scales = conv_params.int8_scales(int8_weight_scales(p), top=p.int8_scale_term > 100)
    return conv_params.weight_and_bias(p) + scales


def int8_weight_scales(p):
    """How many weight scales int8_scale_term asks for: group (1, 101), one (2, 102), or None."""
    if p.int8_scale_term in (1, 101):
        return p.group
    if p.int8_scale_term in (2, 102):
        return 1
    return None


def lower(layer, p, ctx):
    convolution.lower_2d(layer, p, ctx, p.group)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.conv_family(p, depthwise=True)
    checks.one_of(p, "int8_scale_term", (0, 1, 2, 101, 102))
