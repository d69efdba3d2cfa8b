"""LRN (lrn.cpp, x86/lrn_x86.cpp): local response normalisation, AlexNet / GoogLeNet style.

y = x * (bias + alpha / n * sum(x^2 over the region)) ^ -beta, where the region is
  region_type 0 (across channels): channels q - local_size/2 .. q + local_size - local_size/2 - 1
    (clipped to the blob), n = local_size. That is what pip ncnn computes (measured); lrn.cpp:66
    reads q + local_size/2 as the last channel, which differs for an even local_size. ONNX LRN
    centres an even window the other way (q - 1 .. q + 2 for 4), so it is not used;
  region_type 1 (within channel): a local_size x local_size window, padded with zeros by
    local_size/2 before and local_size - local_size/2 - 1 after, n = local_size^2.
1-D and 2-D blobs are one channel (w, or h x w). The window sums are a Conv with a ones kernel.

Differences from ncnn: the x86 build computes the power with an AVX exp(log) approximation
(pow256_ps) on runs of 8 values, so outputs differ from powf by a few float ulps. ncnn reads only
depth 0 of a 4-D blob (the square blob is w x h x c); we refuse 4-D blobs, and refuse a negative
base (bias < 0 or alpha < 0), where ncnn's powf gives NaN but its AVX path gives garbage.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "LRN"

ACROSS_CHANNELS, WITHIN_CHANNEL = 0, 1

# ModelWriter order: 0 1 2 3 4
PARAMS = (
    Param(0, "region_type", 0),
    Param(1, "local_size", 5),
    Param(2, "alpha", 1.0),
    Param(3, "beta", 0.75),
    Param(4, "bias", 1.0),
)


def _fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def _check(layer, p, shape):
    """The params and blob ranks lrn.cpp computes something sensible for."""
    if p.region_type not in (ACROSS_CHANNELS, WITHIN_CHANNEL):
        _fail(layer, "region_type must be 0 (across channels) or 1 (within channel), got %d" % p.region_type)
    if p.local_size < 1:
        _fail(layer, "local_size must be >= 1, got %d" % p.local_size)
    if len(shape) == 4:
        _fail(layer, "a 4-D blob %s is not supported (ncnn's LRN normalises only its first depth slice)"
              % (shape,))
    if p.bias < 0 or p.alpha < 0:
        _fail(layer, "bias (%g) and alpha (%g) must be >= 0 (a negative base of the power is undefined)"
              % (p.bias, p.alpha))


def _as_chw(shape):
    """The ncnn shape as (c, h, w): 1-D and 2-D blobs are one channel."""
    return (1,) * (3 - len(shape)) + tuple(shape)


def _across_channels_sum(ctx, sq, c, h, w, local_size):
    """Sum of squares over local_size channels starting local_size // 2 before q, zeros outside."""
    before, after = local_size // 2, local_size - local_size // 2 - 1
    col = ctx.op("Reshape", [sq, ctx.ints([0, 1, c, h * w])])
    ones = ctx.const(np.ones((1, 1, local_size, 1), np.float32), "lrn_ones")
    ss = ctx.op("Conv", [col, ones], kernel_shape=[local_size, 1], pads=[before, 0, after, 0])
    return ctx.op("Reshape", [ss, ctx.ints([0, c, h, w])])


def _within_channel_sum(ctx, sq, c, local_size):
    """Sum of squares over a local_size^2 window of each channel (a depthwise Conv with ones)."""
    before, after = local_size // 2, local_size - local_size // 2 - 1
    ones = ctx.const(np.ones((c, 1, local_size, local_size), np.float32), "lrn_ones")
    return ctx.op("Conv", [sq, ones], kernel_shape=[local_size, local_size], group=c,
                  pads=[before, before, after, after])


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    _check(layer, p, shape)
    c, h, w = _as_chw(shape)
    x = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, h, w])])
    sq = ctx.op("Mul", [x, x])
    if p.region_type == ACROSS_CHANNELS:
        ss = _across_channels_sum(ctx, sq, c, h, w, p.local_size)
        alpha_div_size = np.float32(p.alpha) / np.float32(p.local_size)
    else:
        ss = _within_channel_sum(ctx, sq, c, p.local_size)
        alpha_div_size = np.float32(p.alpha) / np.float32(p.local_size * p.local_size)
    base = ctx.op("Add", [ctx.op("Mul", [ss, ctx.const(np.float32(alpha_div_size))]), ctx.const(np.float32(p.bias))])
    y = ctx.op("Mul", [x, ctx.op("Pow", [base, ctx.const(np.float32(-p.beta))])])
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(shape))]), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "region_type")
    checks.between(p, 1, 1 << 10, "local_size")
    checks.finite(p, 'alpha', 'beta', 'bias')
