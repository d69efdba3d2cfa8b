"""StatisticsPooling (statisticspooling.cpp): per-channel mean, and standard deviation, as a vector.

Output is a 1-D blob: the c channel means over d*h*w values, followed (include_stddev) by the c
population standard deviations sqrt(mean((x - mean)^2)), so (c,) or (2c,). A 1-D or 2-D blob is
one channel: (1,) or (2,). Param 0=include_stddev (0). Used by Kaldi-style speaker embeddings
(x-vector) after the frame-level TDNN layers.
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "StatisticsPooling"

# ModelWriter has no branch for StatisticsPooling: schema order
PARAMS = (
    Param(0, "include_stddev", 0),
)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    c = shape[0] if len(shape) >= 3 else 1
    x = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, -1])])
    axes = [2]
    mean = ctx.op("ReduceMean", [x], axes=axes, keepdims=1)
    stats = [mean]
    if p.include_stddev:
        centred = ctx.op("Sub", [x, mean])
        stats.append(ctx.op("Sqrt", [ctx.op("ReduceMean", [ctx.op("Mul", [centred, centred])], axes=axes, keepdims=1)]))
    y = stats[0] if len(stats) == 1 else ctx.op("Concat", stats, axis=1)
    n_out = c * len(stats)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0, n_out])]), (n_out,))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "include_stddev")
