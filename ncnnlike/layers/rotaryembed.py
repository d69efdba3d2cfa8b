"""RotaryEmbed (src/layer/rotaryembed.cpp): rotary position embedding with cos / sin caches.

Bottoms: x (heads, seqlen, embed_dim), cos cache, sin cache; one top shaped like x. Each row i of
every head is rotated pairwise by cos[i, j], sin[i, j], j < embed_dim/2:
  y0 = x0 * cos - x1 * sin,   y1 = x0 * sin + x1 * cos
where (x0, x1) are the two halves of the row (0=interleaved 0, as in the LLM params of ncnn's
benchmark) or the even / odd elements (interleaved 1). ncnn reads cache row i at i * cache.w, so a
cache of shape (h >= seqlen, w >= embed_dim/2) works, its extra rows and columns unused; a 1-D
cache serves a single row. A 2-D x is one head, a 1-D x one row.

Refused (ncnn would leave output elements unwritten or read past the cache): an odd embed_dim, a
4-D x, caches smaller than (seqlen, embed_dim/2). pip ncnn's x86 kernel fuses x0*cos - x1*sin into
one FMA, so results agree to float rounding, not bit for bit.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "RotaryEmbed"

# ModelWriter order: 0
PARAMS = (
    Param(0, "interleaved", 0),
)


def as_heads(ctx, x, shape):
    """x as (N, heads, seqlen, embed_dim) with its ncnn shape."""
    full = (1,) * (3 - len(shape)) + tuple(shape)
    if len(shape) < 3:
        x = ctx.op("Reshape", [x, ctx.ints([0] + list(full))])
    return x, full


def cache_rows(ctx, layer, i, seqlen, half, where):
    """Cache bottom i as (N, 1, seqlen, half): its first seqlen rows and half columns."""
    shape = ctx.in_shape(layer, i)
    t = ctx.bottom(layer, i)
    if len(shape) == 3 and shape[0] == 1:
        t, shape = ctx.op("Reshape", [t, ctx.ints([0, shape[1], shape[2]])]), shape[1:]
    if len(shape) == 1 and seqlen == 1:
        t, shape = ctx.op("Unsqueeze", [t, ctx.ints([1])]), (1, shape[0])
    if len(shape) != 2 or shape[0] < seqlen or shape[1] < half:
        raise NcnnlikeError("%s: cache bottom %d has shape %s; expected (h, w) with h >= seqlen %d and "
                            "w >= embed_dim/2 %d" % (where, i, shape, seqlen, half))
    if tuple(shape) != (seqlen, half):
        t = ctx.op("Slice", [t, ctx.ints([0, 0]), ctx.ints([seqlen, half]), ctx.ints([1, 2])])
    return ctx.op("Unsqueeze", [t, ctx.ints([1])])


def rotate(ctx, x0, x1, cos, sin):
    """(x0*cos - x1*sin, x0*sin + x1*cos)."""
    y0 = ctx.op("Sub", [ctx.op("Mul", [x0, cos]), ctx.op("Mul", [x1, sin])])
    y1 = ctx.op("Add", [ctx.op("Mul", [x0, sin]), ctx.op("Mul", [x1, cos])])
    return y0, y1


def lower(layer, p, ctx):
    where = "layer %s (RotaryEmbed)" % layer.name
    if len(layer.bottoms) != 3:
        raise NcnnlikeError("%s: needs 3 bottoms (x, cos cache, sin cache), has %d" % (where, len(layer.bottoms)))
    shape = ctx.in_shape(layer)
    if len(shape) > 3 or shape[-1] % 2:
        raise NcnnlikeError("%s: x has shape %s; expected 1-D to 3-D with an even embed_dim" % (where, shape))
    x, (heads, seqlen, embed_dim) = as_heads(ctx, ctx.bottom(layer), shape)
    half = embed_dim // 2
    cos = cache_rows(ctx, layer, 1, seqlen, half, where)
    sin = cache_rows(ctx, layer, 2, seqlen, half, where)
    if p.interleaved:
        pairs = ctx.op("Reshape", [x, ctx.ints([0, heads, seqlen, half, 2])])
        x0, x1 = ctx.op("Split", [pairs], n_out=2, axis=4)
        sq = ctx.ints([4])
        y0, y1 = rotate(ctx, ctx.op("Squeeze", [x0, sq]), ctx.op("Squeeze", [x1, sq]), cos, sin)
        y = ctx.op("Concat", [ctx.op("Unsqueeze", [y0, sq]), ctx.op("Unsqueeze", [y1, sq])], axis=4)
    else:
        x0, x1 = ctx.op("Split", [x], n_out=2, axis=3)
        y = ctx.op("Concat", list(rotate(ctx, x0, x1, cos, sin)), axis=3)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(shape))]), shape)


BLOBS = (3, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "interleaved")
