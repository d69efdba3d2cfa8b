"""LayerNorm (spec 3, layernorm.cpp): normalise over the innermost dims whose size is affine_size.

y = (x - mean) / sqrt(var + eps) * gamma + beta, population variance. Which dims: 1-D and 2-D
normalise w; 3-D normalises w when affine_size == w, else h*w; 4-D w, h*w, or d*h*w likewise.
Params 0=affine_size, 1=eps (0.001), 2=affine (1); weights gamma, beta raw x affine_size if affine.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "LayerNorm"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "affine_size", 0),
    Param(1, "eps", 0.001),
    Param(2, "affine", 1),
)


def weights(p):
    """gamma_data then beta_data, raw float32 x affine_size each, only when affine."""
    if not p.affine:
        return []
    return [WeightSpec("gamma_data", p.affine_size, False), WeightSpec("beta_data", p.affine_size, False)]


def normalized_dims(shape, affine_size):
    """How many innermost numpy axes one normalisation group spans (layernorm.cpp forward_inplace)."""
    if len(shape) <= 2 or affine_size == shape[-1]:
        return 1
    if len(shape) == 3 or affine_size == shape[-1] * shape[-2]:
        return 2
    return 3


def normalized_inner(layer, p, shape):
    """(k, inner): the normalised innermost axes of a blob of `shape` (normalized_dims) and their
    sizes, which with affine must hold affine_size values (LayerNorm, RMSNorm)."""
    k = normalized_dims(shape, p.affine_size)
    inner = tuple(shape[-k:])
    if p.affine and int(np.prod(inner)) != p.affine_size:
        raise NcnnlikeError("layer %s (%s): affine_size %d does not match the normalised dims %s of shape %s"
                            % (layer.name, layer.type, p.affine_size, inner, shape))
    return k, inner


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    k, inner = normalized_inner(layer, p, shape)
    if p.affine:
        gamma = layer.weight("gamma_data").reshape(inner)
        beta = layer.weight("beta_data").reshape(inner)
    else:
        gamma, beta = np.ones(inner, np.float32), np.zeros(inner, np.float32)
    y = ctx.op("LayerNormalization", [ctx.bottom(layer), ctx.const(gamma, layer.name + "_gamma"),
                                      ctx.const(beta, layer.name + "_beta")], axis=-k, epsilon=float(p.eps))
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py); RMSNorm's too."""
    checks.positive(p, "affine_size")
    checks.finite(p, 'eps')
    checks.flag(p, "affine")
