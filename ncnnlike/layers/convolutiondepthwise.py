"""ConvolutionDepthWise (spec 3): Convolution's params plus 7=group; float lowering to grouped ONNX Conv."""

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import convolution
from ncnnlike.layers.base import Param, WeightSpec

TYPE = "ConvolutionDepthWise"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 5 6 7 8 9 [-23310] 19
PARAMS = tuple(p for q in convolution.PARAMS
               for p in ((q, Param(7, "group", 1)) if q.id == 6 else (q,)))


def weights(p):
    """weight (tagged), bias, then int8 scales by int8_scale_term (spec 3, convolutiondepthwise.cpp):
    1/101: group weight scales + 1 bottom; 2/102: 1 weight scale + 1 bottom; > 100: 1 top."""
    if p.dynamic_weight:
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    if p.int8_scale_term in (1, 101):
        specs.append(WeightSpec("weight_data_int8_scales", p.group, False))
        specs.append(WeightSpec("bottom_blob_int8_scales", 1, False))
    elif p.int8_scale_term in (2, 102):
        specs.append(WeightSpec("weight_data_int8_scales", 1, False))
        specs.append(WeightSpec("bottom_blob_int8_scales", 1, False))
    if p.int8_scale_term > 100:
        specs.append(WeightSpec("top_blob_int8_scales", 1, False))
    return specs


def check(layer, p, ctx):
    """Reject what the float lowering cannot run: bad group, dynamic weight, int8 execution (float
    weights with scales still run as float when use_int8_inference is off)."""
    if p.group < 1 or p.num_output % p.group:
        raise NcnnlikeError("layer %s (ConvolutionDepthWise): num_output %d is not a multiple of group %d"
                            % (layer.name, p.num_output, p.group))
    if p.dynamic_weight:
        raise NcnnlikeError("layer %s (ConvolutionDepthWise): dynamic_weight=1 is not supported" % layer.name)
    if len(ctx.in_shape(layer)) != 3:
        raise NcnnlikeError("layer %s (ConvolutionDepthWise): expects a 3-D (c, h, w) bottom, got shape %s"
                            % (layer.name, ctx.in_shape(layer)))


def lower(layer, p, ctx):
    check(layer, p, ctx)
    from ncnnlike.layers.int8 import lower_int8, runs_int8
    if runs_int8(layer, p, ctx):
        return lower_int8(layer, p, ctx)
    convolution.lower_conv(ctx, layer, p, p.group)
