"""Param lists of a sliding window along 1, 2 or 3 spatial axes, in ncnn's id scheme, for the
convolution family (conv_params.py) and the pooling layers (pool_nd.py).

ncnn numbers a per-axis param once for w and gives h the id + 10 and d the id + 20, each defaulting
to the w value (kernel_h defaults to kernel_w); the low pads (left, top, front) follow that scheme and
the high pads (right, bottom, behind) take consecutive ids, each defaulting to its opposite side.
ModelWriter writes them in that order: all axes of one quantity, w first, then the next quantity.
"""
from ncnnlike.layers.base import Link, Param

AXES = ("w", "h", "d")
LOW_SIDES = ("left", "top", "front")
HIGH_SIDES = ("right", "bottom", "behind")


def per_axis(rank, first_id, stem, default, step=10, names=AXES):
    """`stem`_w at first_id with `default`, then for rank 2 / 3 `stem`_h and `stem`_d at first_id +
    step and + 2 step, both defaulting to the first (`names` renames the axes, e.g. to sides)."""
    return tuple(Param(first_id + i * step, "%s_%s" % (stem, name), Link(first_id) if i else default)
                 for i, name in enumerate(names[:rank]))


def pads(rank, low_id, high_id):
    """pad_left / pad_top / pad_front at low_id (+10, +20), each defaulting to pad_left, then
    pad_right / pad_bottom / pad_behind at high_id (+1, +2), each defaulting to its opposite side."""
    low = per_axis(rank, low_id, "pad", 0, names=LOW_SIDES)
    high = tuple(Param(high_id + i, "pad_" + side, Link(opposite.id))
                 for i, (side, opposite) in enumerate(zip(HIGH_SIDES, low)))
    return low + high
