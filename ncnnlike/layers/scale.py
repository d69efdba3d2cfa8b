"""Scale (spec 3): y = x * s (+ bias) per channel; scale_data_size -233 takes s from a second bottom."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers.batchnorm import per_axis
from ncnnlike.layers import checks

TYPE = "Scale"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "scale_data_size", 0),
    Param(1, "bias_term", 0),
)

TWO_INPUT = -233


def weights(p):
    """scale raw x size, then bias raw x size if bias_term; nothing for the two-input form."""
    if p.scale_data_size == TWO_INPUT:
        return []
    specs = [WeightSpec("scale_data", p.scale_data_size, False)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.scale_data_size, False))
    return specs


def lower(layer, p, ctx):
    """Per element for 1-D, per row for 2-D, per channel for 3-D/4-D (scale.cpp forward_inplace)."""
    shape = ctx.in_shape(layer)
    rank = len(shape)
    x = ctx.bottom(layer)
    if p.scale_data_size == TWO_INPUT:
        if p.bias_term:
            raise NcnnlikeError("layer %s (Scale): the two-input form (0=-233) has no bias data" % layer.name)
        if len(layer.bottoms) < 2:
            raise NcnnlikeError("layer %s (Scale): 0=-233 needs two bottoms" % layer.name)
        s = ctx.op("Reshape", [ctx.bottom(layer, 1), ctx.ints([0, -1] + [1] * (rank - 1))])
        ctx.top(layer, 0, ctx.op("Mul", [x, s]), shape)
        return
    if p.scale_data_size != shape[0]:
        raise NcnnlikeError("layer %s (Scale): scale_data_size=%d but the bottom's leading axis has %d"
                            % (layer.name, p.scale_data_size, shape[0]))
    y = ctx.op("Mul", [x, ctx.const(per_axis(layer.weight("scale_data"), rank), layer.name + "_s")])
    if p.bias_term:
        y = ctx.op("Add", [y, ctx.const(per_axis(layer.weight("bias_data"), rank), layer.name + "_b")])
    ctx.top(layer, 0, y, shape)


BLOBS = ((1, 2), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    if p.scale_data_size != -233:
        checks.positive(p, "scale_data_size")
    checks.flag(p, "bias_term")
