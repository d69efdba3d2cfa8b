"""ROIPooling (roipooling.cpp): Fast R-CNN max pooling of one region of interest, as a host layer
(numpy, one sample at a time: the pooling windows depend on the roi values).

Bottoms: the feature blob (c, h, w) and the roi, whose first 4 values are x1 y1 x2 y2 in image
coordinates (any shape: ncnn reads them flat, e.g. Proposal's (n, 1, 4) gives its first roi).
The roi is scaled and rounded half away from zero: x1 = round(x1 * spatial_scale), ...; its size is
max(x2 - x1 + 1, 1) (likewise h), split in pooled_w x pooled_h bins of size roi_w / pooled_w;
bin (ph, pw) covers rows [y1 + floor(ph * bin_h), y1 + ceil((ph + 1) * bin_h)) clipped to the blob,
columns likewise, and gives the max there, or 0 for an empty bin.
Top: (c, pooled_height, pooled_width). Exact (pure data movement) except as below.

Difference from pip ncnn: its -ffast-math build computes the two bin sizes as one vector division,
i.e. roi size times an approximate reciprocal of the pooled size (rcpps + a Newton step: 1 ulp below
1 / pooled for pooled 2, 4, 5, 7, 8... on the AMD EPYC measured, CPU-specific). Where
k * roi / pooled is a whole number its floor / ceil can then move a bin edge by one row or column
(pooled 2, roi 12: ncnn's second bin starts at row 5, not 6). We divide exactly, as roipooling.cpp
reads; with a power-of-two pooled size and an odd roi size no edge is a whole number and the two agree.
"""
import math

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.reshape import ncnn_dims
from ncnnlike.layers import checks

TYPE = "ROIPooling"
HOST = True

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "pooled_width", 0),
    Param(1, "pooled_height", 0),
    Param(2, "spatial_scale", 1.0),
)

F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def c_round(x):
    """C round() / roundf(): half away from zero (a float holding a whole number)."""
    return math.copysign(math.floor(abs(float(x)) + 0.5), float(x))


def feature_and_roi(layer, bottoms):
    """The feature blob as (c, h, w) and the roi's first 4 values, checked."""
    if len(bottoms) != 2:
        fail(layer, "expected 2 bottoms (feature, roi), got %d" % len(bottoms))
    feature, roi = (np.asarray(b, np.float32) for b in bottoms)
    if feature.ndim == 4:
        fail(layer, "feature blob of shape %s: expected (c, h, w)" % (feature.shape,))
    w, h, _, c = ncnn_dims(feature.shape)
    if roi.size < 4:
        fail(layer, "roi blob of shape %s: needs 4 values x1 y1 x2 y2" % (roi.shape,))
    return feature.reshape(c, h, w), roi.reshape(-1)[:4]


def bin_edges(start, bin_size, pooled, limit):
    """[start, end) of each bin along one axis, clipped to [0, limit]."""
    k = np.arange(pooled, dtype=np.float32)
    lo = start + np.floor(k * bin_size).astype(np.int64)
    hi = start + np.ceil((k + F32(1)) * bin_size).astype(np.int64)
    return np.clip(lo, 0, limit), np.clip(hi, 0, limit)


def forward(layer, p, bottoms):
    if p.pooled_width <= 0 or p.pooled_height <= 0:
        fail(layer, "pooled_width (0) and pooled_height (1) must be > 0, got %d and %d"
             % (p.pooled_width, p.pooled_height))
    feature, roi = feature_and_roi(layer, bottoms)
    c, h, w = feature.shape
    x1, y1, x2, y2 = (int(c_round(v * F32(p.spatial_scale))) for v in roi)
    bin_w = F32(max(x2 - x1 + 1, 1)) / F32(p.pooled_width)
    bin_h = F32(max(y2 - y1 + 1, 1)) / F32(p.pooled_height)
    rows = bin_edges(y1, bin_h, p.pooled_height, h)
    cols = bin_edges(x1, bin_w, p.pooled_width, w)
    top = np.zeros((c, p.pooled_height, p.pooled_width), np.float32)
    for ph in range(p.pooled_height):
        for pw in range(p.pooled_width):
            window = feature[:, rows[0][ph]:rows[1][ph], cols[0][pw]:cols[1][pw]]
            if window.size:
                top[:, ph, pw] = window.max(axis=(1, 2))
    return [top]


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 12, "pooled_width", "pooled_height")
    checks.finite(p, 'spatial_scale')
