"""BatchNorm (spec 3): y = b*x + a per channel, with b and a folded from slope/mean/var/bias as ncnn does."""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "BatchNorm"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "channels", 0),
    Param(1, "eps", 0.0),
)


def weights(p):
    """slope, mean, var, bias: each raw x channels."""
    return [WeightSpec(name, p.channels, False) for name in ("slope_data", "mean_data", "var_data", "bias_data")]


def fold(slope, mean, var, bias, eps):
    """(b, a) in float32 as batchnorm.cpp load_model: sqrt(var+eps), 0 replaced by 0.0001."""
    sqrt_var = np.sqrt(var.astype(np.float32) + np.float32(eps))
    sqrt_var = np.where(sqrt_var == 0, np.float32(0.0001), sqrt_var).astype(np.float32)
    a = (bias - slope * mean / sqrt_var).astype(np.float32)
    b = (slope / sqrt_var).astype(np.float32)
    return b, a


def per_axis(values, rank):
    """Shape per-channel values to broadcast over an ncnn blob of `rank`: 1-D per element,
    2-D per row (h), 3-D/4-D per channel (c)."""
    return values.reshape((-1,) + (1,) * (rank - 1))


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    if shape[0] != p.channels:
        raise NcnnlikeError("layer %s (BatchNorm): channels=%d but the bottom's %s axis has %d"
                            % (layer.name, p.channels, ("w", "h", "c", "c")[len(shape) - 1], shape[0]))
    b, a = fold(layer.weight("slope_data"), layer.weight("mean_data"), layer.weight("var_data"),
                layer.weight("bias_data"), p.eps)
    y = ctx.op("Mul", [ctx.bottom(layer), ctx.const(per_axis(b, len(shape)), layer.name + "_b")])
    y = ctx.op("Add", [y, ctx.const(per_axis(a, len(shape)), layer.name + "_a")])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "channels")
    checks.finite(p, 'eps')
