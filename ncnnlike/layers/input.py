"""Input (spec 3): the network's entry blobs; the runtime binds them, so there is nothing to lower."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Input"

# ModelWriter order: 0 1 2 (the real writer drops 11=d; we keep it, last, as MemoryData's writer does)
PARAMS = (
    Param(0, "w", 0),
    Param(1, "h", 0),
    Param(2, "c", 0),
    Param(11, "d", 0),
)


def shape(p):
    """The ncnn shape (numpy order, no batch) declared by the params, or None when shapeless."""
    if not p.w:
        return None
    if not p.h:
        return (p.w,)
    if not p.c:
        return (p.h, p.w)
    if not p.d:
        return (p.c, p.h, p.w)
    return (p.c, p.d, p.h, p.w)


def lower(layer, p, ctx):
    raise NcnnlikeError("layer %s (Input): inputs are bound by the runtime, never lowered" % layer.name)


BLOBS = (0, (1, None))   # an Input may name several blobs (pnnx kv_cache inputs)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 1 << 24, "w", "h", "c", "d")
