"""PReLU (spec 3, prelu.cpp): x < 0 -> x * slope; slopes raw x num_slope, one per element of the
outer axis (w for 1-D, rows for 2-D, channels for 3-D/4-D), or one slope shared when num_slope is 1."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "PReLU"

# ModelWriter order: 0
PARAMS = (
    Param(0, "num_slope", 0),
)


def weights(p):
    """slope_data: raw float32 x num_slope."""
    return [WeightSpec("slope_data", p.num_slope, False)]


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    slope = layer.weight("slope_data")
    if p.num_slope > 1:
        if p.num_slope != shape[0]:
            raise NcnnlikeError("layer %s (PReLU): num_slope %d does not match the outer dim %d of shape %s"
                                % (layer.name, p.num_slope, shape[0], shape))
        slope = slope.reshape((p.num_slope,) + (1,) * (len(shape) - 1))
    else:
        slope = slope.reshape(())
    y = ctx.op("PRelu", [ctx.bottom(layer), ctx.const(slope, layer.name + "_slope")])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "num_slope")
