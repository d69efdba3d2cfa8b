"""PSROIPooling (psroipooling.cpp): R-FCN position-sensitive average pooling of one region of
interest, as a host layer (numpy, one sample at a time: the windows depend on the roi values).

Bottoms: the feature blob (output_dim * pooled_h * pooled_w, h, w) and the roi, whose first 4 values
are x1 y1 x2 y2 (read flat). The roi is rounded before scaling: x1 = round(x1) * spatial_scale,
x2 = round(x2 + 1) * spatial_scale (y likewise, half away from zero), its size at least 0.1, split in
pooled_w x pooled_h bins; bin (ph, pw) covers rows [floor(y1 + ph * bin_h), ceil(y1 + (ph + 1) * bin_h))
clipped to the blob, columns likewise, and output channel q averages input channel
(q * pooled_h + ph) * pooled_w + pw over it (0 for an empty bin).
Top: (output_dim, pooled_height, pooled_width). The window sum runs row by row in float32 as ncnn's
loop does; ncnn's -ffast-math build may divide by the area as a multiplication (1 ulp).
Difference from pip ncnn: as for ROIPooling (roipooling.py), its bin sizes use an approximate
reciprocal of the pooled size, so a bin edge landing exactly on a whole number can move by one; we
divide exactly.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.roipooling import c_round, feature_and_roi
from ncnnlike.layers import checks

TYPE = "PSROIPooling"
HOST = True

# ModelWriter order: 0 1 2 3
PARAMS = (
    Param(0, "pooled_width", 7),
    Param(1, "pooled_height", 7),
    Param(2, "spatial_scale", 0.0625),
    Param(3, "output_dim", 0),
)

F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def bin_edges(start, bin_size, pooled, limit):
    """[floor(start + k * bin), ceil(start + (k + 1) * bin)) per bin, clipped to [0, limit]."""
    k = np.arange(pooled, dtype=np.float32)
    lo = np.floor(start + k * bin_size).astype(np.int64)
    hi = np.ceil(start + (k + F32(1)) * bin_size).astype(np.int64)
    return np.clip(lo, 0, limit), np.clip(hi, 0, limit)


def window_mean(window):
    """Sum in ncnn's row-major order (float32, one value at a time), divided by the area."""
    flat = window.reshape(-1)
    return np.cumsum(flat, dtype=np.float32)[-1] / F32(flat.size)


def forward(layer, p, bottoms):
    feature, roi = feature_and_roi(layer, bottoms)
    c, h, w = feature.shape
    if p.pooled_width <= 0 or p.pooled_height <= 0 or p.output_dim <= 0:
        fail(layer, "pooled_width (0), pooled_height (1) and output_dim (3) must be > 0")
    if c != p.output_dim * p.pooled_width * p.pooled_height:
        fail(layer, "feature has %d channels, output_dim * pooled_h * pooled_w = %d"
             % (c, p.output_dim * p.pooled_width * p.pooled_height))
    scale = F32(p.spatial_scale)
    x1, y1 = F32(c_round(roi[0])) * scale, F32(c_round(roi[1])) * scale
    x2, y2 = F32(c_round(roi[2] + F32(1))) * scale, F32(c_round(roi[3] + F32(1))) * scale
    bin_w = max(x2 - x1, F32(0.1)) / F32(p.pooled_width)
    bin_h = max(y2 - y1, F32(0.1)) / F32(p.pooled_height)
    rows = bin_edges(y1, bin_h, p.pooled_height, h)
    cols = bin_edges(x1, bin_w, p.pooled_width, w)
    groups = feature.reshape(p.output_dim, p.pooled_height, p.pooled_width, h, w)
    top = np.zeros((p.output_dim, p.pooled_height, p.pooled_width), np.float32)
    for ph in range(p.pooled_height):
        for pw in range(p.pooled_width):
            window = groups[:, ph, pw, rows[0][ph]:rows[1][ph], cols[0][pw]:cols[1][pw]]
            if window.size:
                top[:, ph, pw] = [window_mean(q) for q in window]
    return [top]


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 12, "pooled_width", "pooled_height")
    checks.positive(p, "output_dim")
    checks.finite(p, 'spatial_scale')
