"""RMSNorm (rmsnorm.cpp, x86/rmsnorm_x86.cpp): y = x / sqrt(mean(x^2) + eps) * gamma, as in LLMs.

Which dims one normalisation spans follows LayerNorm: w for 1-D and 2-D blobs (each row), for 3-D
w when affine_size == w else h*w, for 4-D w, h*w or d*h*w. Params 0=affine_size, 1=eps (0.001),
2=affine (1); weight gamma_data, raw float32 x affine_size, when affine. pnnx's LLM decoders use
`RMSNorm 0=1024 1=1e-6 2=1` on (tokens, hidden) blobs.

1/sqrt is exact here. x86/rmsnorm_x86.cpp:145 takes it with the rsqrtps approximation (relative
error up to 1.5 * 2^-12) on packed blobs, but pip ncnn's outputs were measured within 4e-7 of the
exact value on 2-D and 3-D blobs fed by packed producers, so that path is not the one it runs.
"""
import numpy as np

from ncnnlike.layers import layernorm
from ncnnlike.layers.base import WeightSpec

TYPE = "RMSNorm"

# ModelWriter order: 0 1 2, LayerNorm's params
PARAMS = layernorm.PARAMS


def weights(p):
    """gamma_data, raw float32 x affine_size, only when affine."""
    return [WeightSpec("gamma_data", p.affine_size, False)] if p.affine else []


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    k, inner = layernorm.normalized_inner(layer, p, shape)
    x = ctx.bottom(layer)
    axes = list(range(-k, 0))
    mean_sq = ctx.op("ReduceMean", [ctx.op("Mul", [x, x])], axes=axes, keepdims=1)
    inv_rms = ctx.op("Reciprocal", [ctx.op("Sqrt", [ctx.op("Add", [mean_sq, ctx.const(np.float32(p.eps))])])])
    y = ctx.op("Mul", [x, inv_rms])
    if p.affine:
        y = ctx.op("Mul", [y, ctx.const(layer.weight("gamma_data").reshape(inner), layer.name + "_gamma")])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)
check_params = layernorm.check_params
