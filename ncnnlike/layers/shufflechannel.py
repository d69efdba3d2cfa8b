"""ShuffleChannel (shufflechannel.cpp): interleave the channel groups of a 3-D or 4-D blob.

Channel j of group i (channels_per_group * i + j) moves to channel _group * j + i, where _group
is 0=group, or channels / group when 1=reverse is set (the inverse shuffle). As a reshape: view
the channels as (_group, channels_per_group), swap the two, flatten again.

ncnn refuses channels not divisible by group (forward returns -100); so do we. A 1-D or 2-D blob
has one channel: only a shuffle into one group (an identity) is defined; pip ncnn's x86 kernel
would shuffle the rows packed inside a 2-D blob's elempack, an accident of the layout, so larger
groups there are refused.
"""
import math

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "ShuffleChannel"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "group", 1),
    Param(1, "reverse", 0),
)


def groups(layer, p, channels):
    """The number of groups the channels are interleaved from (_group in ncnn), or a clear error."""
    if p.group < 1 or channels % p.group != 0:
        raise NcnnlikeError("layer %s (ShuffleChannel): %d channels do not split into group=%d"
                            % (layer.name, channels, p.group))
    return channels // p.group if p.reverse else p.group


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    channels = shape[0] if len(shape) >= 3 else 1
    n_groups = groups(layer, p, channels)
    x = ctx.bottom(layer)
    if n_groups == 1:
        ctx.top(layer, 0, x, shape)
        return
    if len(shape) < 3:
        raise NcnnlikeError("layer %s (ShuffleChannel): a %d-D blob has no channels to shuffle into %d groups"
                            % (layer.name, len(shape), n_groups))
    size = math.prod(shape[1:])
    grouped = ctx.op("Reshape", [x, ctx.ints([0, n_groups, channels // n_groups, size])])
    swapped = ctx.op("Transpose", [grouped], perm=[0, 2, 1, 3])
    y = ctx.op("Reshape", [swapped, ctx.ints([0] + list(shape))])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "group")
    checks.flag(p, "reverse")
