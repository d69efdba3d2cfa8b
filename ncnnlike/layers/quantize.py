"""Quantize (spec 3, 7; quantize.cpp, x86/quantize_x86.cpp): float -> int8, q = float2int8(x * scale).

0=scale_data_size (default 1) raw float scales in the .bin. One scale for the whole blob, or one per
element of the outer axis when scale_data_size > 1: per row of a 2-D blob, per channel of a 3-D/4-D
one; a 1-D blob always uses scale_data[0], as ncnn. Rounding is ncnn's x86 float2int8 (spec 7.2,
int8_sim.round_clamp): pip ncnn rounds the elements left over from its SIMD loop with round(), which
differs only for x * scale = +-0.49999997 (SIMD and ours give +-1, round() gives 0).

The top is int8: carried as uint8 q+128 and bound with quant= the scale(s), so an int8 Convolution,
ConvolutionDepthWise or InnerProduct takes q as is (as in pip ncnn), and extracting it gives the
value-cast q, as pip ncnn's extract does. ncnn quantizes whatever use_int8_inference
says, and so does this layer.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import int8_sim
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Quantize"

# ModelWriter order: 0
PARAMS = (
    Param(0, "scale_data_size", 1),
)


def weights(p):
    """scale_data: raw float32 x scale_data_size."""
    return [WeightSpec("scale_data", p.scale_data_size, False)]


def outer_values(layer, name, shape):
    """Buffer `name` shaped to broadcast over a blob of ncnn `shape` as ncnn's int8 layers index it:
    one value for the whole blob (size 1, or any size on a 1-D blob, which uses element 0), else one
    per row (2-D) or channel (3-D/4-D), the size then matching that axis."""
    values = np.atleast_1d(layer.weight(name)).ravel()
    if values.size == 0:
        raise NcnnlikeError("layer %s (%s): %s is empty" % (layer.name, layer.type, name))
    if values.size == 1 or len(shape) == 1:
        return np.float32(values[0])
    if values.size != shape[0]:
        raise NcnnlikeError("layer %s (%s): %d values in %s but the bottom's %s axis has %d"
                            % (layer.name, layer.type, values.size, name, "h" if len(shape) == 2 else "c", shape[0]))
    return values.reshape((-1,) + (1,) * (len(shape) - 1))


def quant_of(scale):
    """The quant= tag of an int8 top: the scale, or the tuple of per-row / per-channel scales."""
    return float(scale) if np.ndim(scale) == 0 else tuple(float(s) for s in np.ravel(scale))


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    scale = outer_values(layer, "scale_data", shape)
    q = int8_sim.round_clamp(ctx, ctx.op("Mul", [ctx.bottom(layer), ctx.const(scale, layer.name + "_scale")]))
    ctx.top(layer, 0, int8_sim.to_uint8(ctx, q), shape, quant=quant_of(scale))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "scale_data_size")
