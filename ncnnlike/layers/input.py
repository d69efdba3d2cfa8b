"""Input (spec 3): the network's entry blobs; the runtime binds them, so there is nothing to lower."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param

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
