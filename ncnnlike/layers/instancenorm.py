"""InstanceNorm (instancenorm.cpp, x86/instancenorm_x86.cpp): normalise each channel on its own.

y = (x - mean) / sqrt(var + eps) * gamma[q] + beta[q] over the d*h*w values of channel q,
population variance of (x - mean). 1-D and 2-D blobs are one channel (ncnn's Mat has c = 1).
Params 0=channels (only sizes the weights), 1=eps (0.001), 2=affine (1); weights gamma_data,
beta_data, raw float32 x channels each, when affine. The forward uses the blob's channel count:
ncnn reads gamma/beta past their end when the blob has more channels than `channels` (refused
here); with fewer it uses the first ones, as here.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "InstanceNorm"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "channels", 0),
    Param(1, "eps", 0.001),
    Param(2, "affine", 1),
)


def weights(p):
    """gamma_data then beta_data, raw float32 x channels each, only when affine."""
    if not p.affine:
        return []
    return [WeightSpec("gamma_data", p.channels, False), WeightSpec("beta_data", p.channels, False)]


def normalize_rows(ctx, x, eps):
    """(x - mean) / sqrt(var + eps) over the last axis of a (N, G, L) tensor: two passes, the mean
    then the variance of x - mean, as instancenorm.cpp and groupnorm.cpp compute them."""
    axes = [-1]
    centred = ctx.op("Sub", [x, ctx.op("ReduceMean", [x], axes=axes, keepdims=1)])
    var = ctx.op("ReduceMean", [ctx.op("Mul", [centred, centred])], axes=axes, keepdims=1)
    inv_std = ctx.op("Reciprocal", [ctx.op("Sqrt", [ctx.op("Add", [var, ctx.const(np.float32(eps))])])])
    return ctx.op("Mul", [centred, inv_std])


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    c = shape[0] if len(shape) >= 3 else 1
    x = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, -1])])
    y = normalize_rows(ctx, x, p.eps)
    if p.affine:
        if p.channels < c:
            raise NcnnlikeError("layer %s (%s): channels %d is less than the %d channels of the blob %s"
                                % (layer.name, layer.type, p.channels, c, shape))
        gamma = layer.weight("gamma_data")[:c].reshape(c, 1)
        beta = layer.weight("beta_data")[:c].reshape(c, 1)
        y = ctx.op("Add", [ctx.op("Mul", [y, ctx.const(gamma)]), ctx.const(beta)])
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(shape))]), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "channels")
    checks.finite(p, 'eps')
    checks.flag(p, "affine")
