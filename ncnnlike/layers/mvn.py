"""MVN (mvn.cpp): mean-variance normalisation, Caffe's MVN layer.

y = x - mean, then (normalize_variance) y / (sqrt(mean(y^2)) + eps): note eps is added to the
standard deviation, not to the variance. The statistics are per channel (over d*h*w), or over the
whole blob (across_channels). Params 0=normalize_variance (0), 1=across_channels (0), 2=eps (1e-4).

Output shape (ncnn's, kept): a 1-D or 2-D blob is one channel and comes out 3-D, (1, 1, w) or
(1, h, w) (mvn.cpp creates the top as w x h x c); 3-D and 4-D blobs keep their shape.
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "MVN"

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "normalize_variance", 0),
    Param(1, "across_channels", 0),
    Param(2, "eps", 0.0001),
)


def out_shape(shape):
    """mvn.cpp's top shape: 3-D for 1-D/2-D blobs, else the input's."""
    if len(shape) >= 3:
        return tuple(shape)
    return (1,) * (3 - len(shape)) + tuple(shape)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    c = shape[0] if len(shape) >= 3 else 1
    x = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, -1])])
    axes = [1, 2] if p.across_channels else [2]
    y = ctx.op("Sub", [x, ctx.op("ReduceMean", [x], axes=axes, keepdims=1)])
    if p.normalize_variance:
        std = ctx.op("Sqrt", [ctx.op("ReduceMean", [ctx.op("Mul", [y, y])], axes=axes, keepdims=1)])
        inv = ctx.op("Reciprocal", [ctx.op("Add", [std, ctx.const(np.float32(p.eps))])])
        y = ctx.op("Mul", [y, inv])
    top = out_shape(shape)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(top))]), top)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "normalize_variance", "across_channels")
    checks.finite(p, 'eps')
