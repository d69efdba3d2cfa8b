"""Permute (spec 3, permute.cpp): reorder the axes of a 2-D, 3-D or 4-D blob by 0=order_type.

ncnn names each order by the new (w, h[, d], c) written with the old axis letters, e.g. 3-D order 1
"h w c" makes the new w the old h. A 1-D blob passes through unchanged.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Permute"

# ModelWriter order: 0
PARAMS = (
    Param(0, "order_type", 0),
)

ORDERS = {
    2: ["w h", "h w"],
    3: ["w h c", "h w c", "w c h", "c w h", "h c w", "c h w"],
    4: ["w h d c", "h w d c", "w d h c", "d w h c", "h d w c", "d h w c",
        "w h c d", "h w c d", "w c h d", "c w h d", "h c w d", "c h w d",
        "w d c h", "d w c h", "w c d h", "c w d h", "d c w h", "c d w h",
        "h d c w", "d h c w", "h c d w", "c h d w", "d c h w", "c d h w"],
}

NUMPY_AXIS = {2: "hw", 3: "chw", 4: "cdhw"}


def perm(dims, order_type):
    """The numpy transpose (no batch) of ncnn `order_type` for a `dims`-D blob, or None if invalid."""
    orders = ORDERS.get(dims)
    if orders is None or not 0 <= order_type < len(orders):
        return None
    new_whdc = orders[order_type].split()
    return [NUMPY_AXIS[dims].index(name) for name in reversed(new_whdc)]


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    if len(shape) == 1:
        ctx.top(layer, 0, ctx.bottom(layer), shape)
        return
    order = perm(len(shape), p.order_type)
    if order is None:
        raise NcnnlikeError("layer %s (Permute): order_type %d is not defined for a %d-D blob"
                            % (layer.name, p.order_type, len(shape)))
    y = ctx.op("Transpose", [ctx.bottom(layer)], perm=[0] + [a + 1 for a in order])
    ctx.top(layer, 0, y, tuple(shape[a] for a in order))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 23, "order_type")
