"""What YoloDetectionOutput and Yolov3DetectionOutput share (not a layer type): params 0..4, the
channel layout of a bottom, the float32 sigmoid, the grid-cell box centres and corners, and the
load-time checks.

A bottom (c, h, w) holds num_box groups of 5 + num_class channels (x, y, w, h, objectness, class
logits; c / num_box, truncated, must be 5 + num_class). A box centre is cx = (j + sigmoid(x)) / w,
cy = (i + sigmoid(y)) / h at grid cell (i, j); its corners are cx -+ bw / 2, cy -+ bh / 2.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

F32 = np.float32

# ModelWriter order: 0 1 2 3 4 (Yolov3DetectionOutput goes on with 5 6)
PARAMS = (
    Param(0, "num_class", 20),
    Param(1, "num_box", 5),
    Param(2, "confidence_threshold", 0.01),
    Param(3, "nms_threshold", 0.45),
    Param(4, "biases", []),
)


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def sigmoid(x):
    with np.errstate(over="ignore"):
        return F32(1) / (F32(1) + np.exp(-x))


def check_counts(layer, p):
    """num_box > 0 and num_class >= 0, what forward needs to split the channels into groups."""
    if p.num_box <= 0 or p.num_class < 0:
        fail(layer, "num_box (1) must be > 0 and num_class (0) >= 0, got %d and %d" % (p.num_box, p.num_class))


def check_bottom(layer, p, x):
    """A (c, h, w) bottom whose c / num_box is 5 + num_class."""
    if x.ndim != 3 or x.shape[0] // p.num_box != 5 + p.num_class:
        fail(layer, "bottom of shape %s: expected (c, h, w) with c / num_box = 5 + num_class = %d"
             % (x.shape, 5 + p.num_class))


def group(x, pp, p):
    """The channels of group pp: (x, y, w, h, objectness), then the num_class class channels."""
    base = pp * (x.shape[0] // p.num_box)
    return x[base:base + 5], x[base + 5: base + 5 + p.num_class]


def centres(tx, ty):
    """(cx, cy) of every grid cell of the (h, w) channels tx, ty."""
    h, w = tx.shape
    rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    return (cols + sigmoid(tx)) / F32(w), (rows + sigmoid(ty)) / F32(h)


def corners(cx, cy, bw, bh):
    """Boxes x1, y1, x2, y2 on a last axis."""
    return np.stack([cx - bw * F32(0.5), cy - bh * F32(0.5), cx + bw * F32(0.5), cy + bh * F32(0.5)], axis=-1)


def check_params(p):
    """The load_param checks of both layers: num_class and num_box >= 1, and a channel count that
    fits pip ncnn's 32-bit int (its load_param refuses more)."""
    checks.positive(p, "num_class", "num_box")
    if (p.num_class + 5) * p.num_box >= 1 << 31:
        raise checks.Invalid("num_box=%d x (5 + num_class=%d) channels does not fit a 32-bit int"
                             % (p.num_box, p.num_class))
