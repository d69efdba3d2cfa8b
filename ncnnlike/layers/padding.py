"""Padding (spec 3, padding.cpp): constant / replicate / reflect borders, channel (3-D) or depth (4-D)
padding with front/behind, and per-channel constant values; lowering to ONNX Pad."""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Padding"

MODES = {0: "constant", 1: "edge", 2: "reflect"}

# ModelWriter order: 0 1 2 3 4 5 6 7 8
PARAMS = (
    Param(0, "top", 0),
    Param(1, "bottom", 0),
    Param(2, "left", 0),
    Param(3, "right", 0),
    Param(4, "type", 0),
    Param(5, "value", 0.0),
    Param(6, "per_channel_pad_data_size", 0),
    Param(7, "front", 0),
    Param(8, "behind", 0),
)


def weights(p):
    """per_channel_pad_data raw x size, only when the size is non-zero."""
    if p.per_channel_pad_data_size:
        return [WeightSpec("per_channel_pad_data", p.per_channel_pad_data_size, False)]
    return []


def axis_pads(p, rank):
    """(begin, end) per ncnn axis in numpy order: 1-D w; 2-D h, w; 3-D c, h, w; 4-D c, d, h, w."""
    hw = [(p.top, p.bottom), (p.left, p.right)]
    return {1: [(p.left, p.right)], 2: hw, 3: [(p.front, p.behind)] + hw,
            4: [(0, 0), (p.front, p.behind)] + hw}[rank]


def per_channel_border(p, layer, in_shape, out_shape, pads):
    """Constant (out_c, 1..) per-channel values on the border, 0 inside (type 0 with per-channel data)."""
    values = layer.weight("per_channel_pad_data")
    c = out_shape[0]
    if values.size < c:
        raise NcnnlikeError("layer %s (Padding): per_channel_pad_data_size %d < %d channels"
                            % (layer.name, values.size, c))
    border = np.ones(out_shape, np.float32)
    inner = tuple(slice(b, b + n) for (b, _), n in zip(pads, in_shape))
    border[inner] = 0
    return border * values[:c].reshape((c,) + (1,) * (len(out_shape) - 1))


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    rank = len(shape)
    if rank not in (1, 2, 3, 4):
        raise NcnnlikeError("layer %s (Padding): unsupported bottom shape %s" % (layer.name, shape))
    if p.type not in MODES:
        raise NcnnlikeError("layer %s (Padding): type %d is not 0 constant, 1 replicate or 2 reflect"
                            % (layer.name, p.type))
    pads = axis_pads(p, rank)
    if any(v < 0 for pair in pads for v in pair):
        raise NcnnlikeError("layer %s (Padding): negative pads %s are not supported" % (layer.name, pads))
    if p.type == 2 and any(max(pair) >= n for pair, n in zip(pads, shape)):
        raise NcnnlikeError("layer %s (Padding): reflect pads %s must be smaller than the blob %s"
                            % (layer.name, pads, shape))
    x = ctx.bottom(layer)
    if not any(v for pair in pads for v in pair):
        ctx.top(layer, 0, x, shape)
        return
    out_shape = tuple(n + b + e for (b, e), n in zip(pads, shape))
    onnx_pads = [0] + [b for b, _ in pads] + [0] + [e for _, e in pads]
    per_channel = p.type == 0 and p.per_channel_pad_data_size and rank >= 3
    value = np.float32(0 if per_channel else p.value)
    y = ctx.op("Pad", [x, ctx.ints(onnx_pads), ctx.const(value)], mode=MODES[p.type])
    if per_channel:
        border = per_channel_border(p, layer, shape, out_shape, pads)
        y = ctx.op("Add", [y, ctx.const(border[None], layer.name + "_border")])
    ctx.top(layer, 0, y, out_shape)


BLOBS = ((1, 3), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 2, "type")
    checks.finite(p, 'value')
    checks.between(p, 0, checks.MAX_PAD, "top", "bottom", "left", "right", "front", "behind")
    checks.at_least(p, 0, "per_channel_pad_data_size")
