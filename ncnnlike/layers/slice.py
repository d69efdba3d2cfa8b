"""Slice (spec 3, slice.cpp): split along 1=axis into the tops, by -23300=slices or -23302=indices.

slices: one size per top; -233 takes an equal share of what is left, (left) // (tops left).
indices: the end of each top but the last (negative counts from the end); the last top takes the rest.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Slice"

REST = -233

# ModelWriter order: -23300 1 (ncnn's writer drops -23302=indices; we keep it, spec 1.3 QUIRK)
PARAMS = (
    Param(0, "slices", []),
    Param(1, "axis", 0),
    Param(2, "indices", []),
)


def sizes(p, dim, n_tops, where):
    """The size of each top along the axis, as slice.cpp computes them."""
    out, q = [], 0
    for i in range(n_tops):
        if p.indices:
            if i == n_tops - 1:
                size = dim - q
            else:
                if i >= len(p.indices):
                    raise NcnnlikeError("%s: %d indices for %d tops" % (where, len(p.indices), n_tops))
                index = p.indices[i] + dim if p.indices[i] < 0 else p.indices[i]
                size = index - q
        else:
            if i >= len(p.slices):
                raise NcnnlikeError("%s: %d slices for %d tops" % (where, len(p.slices), n_tops))
            size = p.slices[i]
            if size == REST:
                size = (dim - q) // (n_tops - i)
        if size < 0 or q + size > dim:
            raise NcnnlikeError("%s: slice %d of size %d does not fit in %d" % (where, i, size, dim))
        out.append(size)
        q += size
    return out


def lower(layer, p, ctx):
    where = "layer %s (Slice)" % layer.name
    shape = ctx.in_shape(layer)
    axis = p.axis + len(shape) if p.axis < 0 else p.axis
    if not 0 <= axis < len(shape):
        raise NcnnlikeError("%s: axis %d out of range for shape %s" % (where, p.axis, shape))
    x = ctx.bottom(layer)
    q = 0
    for i, size in enumerate(sizes(p, shape[axis], len(layer.tops), where)):
        y = ctx.op("Slice", [x, ctx.ints([q]), ctx.ints([q + size]), ctx.ints([axis + 1])])
        ctx.top(layer, i, y, tuple(size if j == axis else d for j, d in enumerate(shape)))
        q += size


BLOBS = (1, (1, None))


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
    for v in p.slices or []:
        if v != -233 and v < 1:
            raise checks.Invalid("slices=%s: a slice is >= 1 or -233 (the rest)" % p.slices)
