"""SPP (spp.cpp): spatial pyramid pooling, Caffe's SPP layer (SPP-net).

Level p = 0 .. pyramid_height-1 pools each channel into num_bins x num_bins (num_bins = 2^p) with
kernel = stride = ceil(h / num_bins) (likewise w); the blob is bordered with zeros, (r + 1) / 2
rows on top where r = kernel * num_bins - h, and the windows cover rows -(r+1)/2 .. kernel*num_bins
- (r+1)/2 - 1 (so r/2 zero rows at the bottom). Max pooling takes the zeros into the max; average
pooling divides by kernel_h * kernel_w, zeros included. pooling_type 0 = max, 1 = average.

Output (a difference from ncnn): the 1-D blob of c * (4^pyramid_height - 1) / 3 values that spp.cpp
writes, level after level, each level channel-major (c, num_bins, num_bins) flattened, which is
Caffe's SPP output. ncnn cannot give this answer: pip ncnn is built without SPP (its create_layer
returns None and load_param fails: "layer SPP not exists or registered"), and spp.cpp:28 creates
the top as w=num_bins_total, h=1, c=2 (channel stride rounded up to 4 floats) yet writes all
c * num_bins_total values into it, past its end once c > 2.
"""
import math

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "SPP"

POOL_MAX, POOL_AVG = 0, 1

# ModelWriter has no branch for SPP: schema order
PARAMS = (
    Param(0, "pooling_type", 0),
    Param(1, "pyramid_height", 1),
)


def num_bins_total(pyramid_height):
    """1 + 4 + 16 + ... over the levels: (4^pyramid_height - 1) / 3."""
    return ((1 << (2 * pyramid_height)) - 1) // 3


def level_geometry(size, num_bins):
    """(kernel, pad_before, pad_after) along one axis for one pyramid level (spp.cpp forward)."""
    kernel = math.ceil(size / num_bins)
    remainder = kernel * num_bins - size
    return kernel, (remainder + 1) // 2, remainder // 2


def _check(layer, p, shape):
    if p.pooling_type not in (POOL_MAX, POOL_AVG):
        raise NcnnlikeError("layer %s (%s): pooling_type must be 0 (max) or 1 (average), got %d"
                            % (layer.name, layer.type, p.pooling_type))
    if not 1 <= p.pyramid_height <= 12:
        raise NcnnlikeError("layer %s (%s): pyramid_height must be 1..12, got %d"
                            % (layer.name, layer.type, p.pyramid_height))
    if len(shape) != 3:
        raise NcnnlikeError("layer %s (%s): expects a 3-D (c, h, w) blob, got shape %s"
                            % (layer.name, layer.type, shape))


def _level(ctx, x, p, h, w, num_bins):
    """One pyramid level as (N, c * num_bins^2): zero border, then an unpadded pool."""
    kh, top, bottom = level_geometry(h, num_bins)
    kw, left, right = level_geometry(w, num_bins)
    if top or bottom or left or right:
        x = ctx.op("Pad", [x, ctx.ints([0, 0, top, left, 0, 0, bottom, right])], mode="constant")
    pool = "MaxPool" if p.pooling_type == POOL_MAX else "AveragePool"
    pooled = ctx.op(pool, [x], kernel_shape=[kh, kw], strides=[kh, kw])
    return ctx.op("Flatten", [pooled], axis=1)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    _check(layer, p, shape)
    c, h, w = shape
    x = ctx.bottom(layer)
    levels = [_level(ctx, x, p, h, w, 1 << level) for level in range(p.pyramid_height)]
    y = levels[0] if len(levels) == 1 else ctx.op("Concat", levels, axis=1)
    ctx.top(layer, 0, y, (c * num_bins_total(p.pyramid_height),))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.one_of(p, "pooling_type", (0, 1), "0 max, 1 avg")
    checks.between(p, 1, 8, "pyramid_height")
