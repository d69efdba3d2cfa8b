"""Bias (spec 3): y = x + bias[q] per channel q (bias.cpp); a 1-D/2-D blob is one channel, so bias[0]."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Bias"

# ModelWriter order: 0
PARAMS = (
    Param(0, "bias_data_size", 0),
)


def weights(p):
    return [WeightSpec("bias_data", p.bias_data_size, False)]


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    channels = shape[0] if len(shape) >= 3 else 1
    bias = layer.weight("bias_data")
    if bias.size < channels:
        raise NcnnlikeError("layer %s (Bias): bias_data_size=%d but the bottom has %d channels"
                            % (layer.name, bias.size, channels))
    if len(shape) >= 3:
        b = bias[:channels].reshape((channels,) + (1,) * (len(shape) - 1))
    else:
        b = bias[:1].reshape((1,) * len(shape))
    ctx.top(layer, 0, ctx.op("Add", [ctx.bottom(layer), ctx.const(b, layer.name + "_b")]), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "bias_data_size")
