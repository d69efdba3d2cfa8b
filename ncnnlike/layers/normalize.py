"""Normalize (normalize.cpp): L2 normalisation with a learned scale, as in SSD's conv4_3_norm.

With ssum the sum of squares over the region and a = 1 / norm(ssum):
  across_spatial and across_channel: one ssum over the whole blob;
  across_spatial only: one ssum per channel;
  across_channel only: one ssum per spatial position, over the channels;
  neither: the blob passes through unchanged (normalize.cpp has no branch for it).
eps_mode picks the norm: 0 (caffe/mxnet) sqrt(ssum + eps); 1 (pytorch) max(sqrt(ssum), eps);
2 (tensorflow, and any other value) sqrt(max(ssum, eps)). y = x * a * scale, with one scale for all
channels (channel_shared) or one per channel. 1-D and 2-D blobs are one channel of w or h*w values.
Weights: scale_data, raw float32 x scale_data_size (ncnn's load_model fails when it is 0).
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Normalize"

# ModelWriter order: 0 1 2 3 4 9
PARAMS = (
    Param(0, "across_spatial", 0),
    Param(1, "channel_shared", 0),
    Param(2, "eps", 0.0001),
    Param(3, "scale_data_size", 0),
    Param(4, "across_channel", 1),
    Param(9, "eps_mode", 0),
)


def weights(p):
    """scale_data, raw float32 x scale_data_size."""
    return [WeightSpec("scale_data", p.scale_data_size, False)]


def _fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def _scale(layer, p, c):
    """The scale as a (c, 1) column (or a scalar when channel_shared), checked against the blob."""
    need = 1 if p.channel_shared else c
    if p.scale_data_size < max(need, 1):
        _fail(layer, "scale_data_size %d is too small: %s needs %d value(s)"
              % (p.scale_data_size, "channel_shared" if p.channel_shared else "a blob of %d channels" % c, need))
    scale = layer.weight("scale_data")
    return np.float32(scale[0]) if p.channel_shared else scale[:c].reshape(c, 1)


def _inverse_norm(ctx, ssum, p):
    """a = 1 / norm(ssum) for the eps_mode."""
    eps = ctx.const(np.float32(p.eps))
    if p.eps_mode == 0:
        norm = ctx.op("Sqrt", [ctx.op("Add", [ssum, eps])])
    elif p.eps_mode == 1:
        norm = ctx.op("Max", [ctx.op("Sqrt", [ssum]), eps])
    else:
        norm = ctx.op("Sqrt", [ctx.op("Max", [ssum, eps])])
    return ctx.op("Reciprocal", [norm])


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    c = shape[0] if len(shape) >= 3 else 1
    size = int(np.prod(shape)) // c
    scale = _scale(layer, p, c)
    x = ctx.bottom(layer)
    if not (p.across_spatial or p.across_channel):
        ctx.top(layer, 0, ctx.op("Identity", [x]), shape)
        return
    xv = ctx.op("Reshape", [x, ctx.ints([0, c, size])])
    if p.across_spatial:
        axes = [1, 2] if p.across_channel else [2]
    else:
        axes = [1]
    ssum = ctx.op("ReduceSum", [ctx.op("Mul", [xv, xv]), ctx.ints(axes)], keepdims=1)
    a = _inverse_norm(ctx, ssum, p)
    y = ctx.op("Mul", [xv, ctx.op("Mul", [a, ctx.const(scale)])])
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(shape))]), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "across_spatial", "channel_shared", "across_channel")
    checks.positive(p, "scale_data_size")
    checks.between(p, 0, 2, "eps_mode")
    checks.finite(p, 'eps')
