"""MemoryData (spec 3, memorydata.cpp): a constant blob stored in the .bin.

The blob has no bottom, so its ONNX tensor is a constant with a batch axis of 1: elementwise
consumers (BinaryOp, Eltwise...) broadcast it against batch N, and extracting it gives batch 1.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "MemoryData"

# ModelWriter order: 0 1 2 11 (the real writer drops 21=load_type and always writes the data raw)
PARAMS = (
    Param(0, "w", 0),
    Param(1, "h", 0),
    Param(2, "c", 0),
    Param(11, "d", 0),
    Param(21, "load_type", 1),
)


def shape(p):
    """ncnn shape (numpy order): the load_model cascade d -> c -> h -> w; all zero gives a 1-element Mat."""
    if p.d:
        return (p.c, p.d, p.h, p.w)
    if p.c:
        return (p.c, p.h, p.w)
    if p.h:
        return (p.h, p.w)
    if p.w:
        return (p.w,)
    return (1,)


def weights(p):
    """One buffer of the shape's size, tagged when load_type is 0, else raw. All dims 0 reads nothing,
    as memorydata.cpp; ncnn's writer still writes 4 bytes there (spec 3 QUIRK), we follow the reader."""
    if not (p.w or p.h or p.c or p.d):
        return []
    return [WeightSpec("data", int(np.prod(shape(p))), p.load_type == 0)]


def lower(layer, p, ctx):
    out = shape(p)
    if "data" in layer.weights:
        data = layer.weight("data")
        if data.size != int(np.prod(out)):
            raise NcnnlikeError("layer %s (MemoryData): %d values stored, shape %s needs %d"
                                % (layer.name, data.size, out, int(np.prod(out))))
    elif weights(p):
        raise NcnnlikeError("layer %s (MemoryData): no data loaded" % layer.name)
    else:
        data = np.zeros(1, np.float32)   # ncnn leaves this 1-element Mat uninitialized
    ctx.top(layer, 0, ctx.const(data.reshape((1,) + out), layer.name + "_data"), out)


BLOBS = (0, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "w")
    checks.between(p, 0, 1 << 24, "w", "h", "c", "d")
