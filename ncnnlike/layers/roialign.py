"""ROIAlign (roialign.cpp; pip ncnn runs x86/roialign_x86.cpp): bilinear average pooling of one
region of interest, as a host layer (numpy, one sample at a time: the sampling grid depends on the
roi values).

Bottoms: the feature blob (c, h, w) and the roi, whose first 4 values are x1 y1 x2 y2 (read flat).
The roi is scaled by spatial_scale, shifted by -0.5 with `aligned`; without `aligned` its size is at
least 1. Bins: roi size / pooled size.
version 0 (ncnn's original): bin (ph, pw) spans [y1 + ph * bin_h, y1 + (ph + 1) * bin_h] clipped to
  [0, h] (x likewise), empty -> 0; a grid of sampling_ratio (or ceil(clipped span)) points per axis
  at start + (k + 0.5) * bin / grid; each point interpolates between (int(y), int(y) + 1), the upper
  index clamped to h - 1 with weight 0, and the bin is the sum over points / their count.
version 1 (detectron2): the grid is sampling_ratio (or ceil(roi_h / pooled_h)) for every bin, points at
  y1 + ph * bin_h + (k + 0.5) * bin_h / grid; a point beyond [-1, h] (x: [-1, w]) counts as 0, else it is
  clamped to >= 0 and interpolated with both indices clamped to the last row / column; the bin is the
  sum / max(grid_h * grid_w, 1).
Top: (c, pooled_height, pooled_width). The weights are the x86 kernel's (w1 = (1 - ly)(1 - lx)...,
sum of w_k * value_k per point, points summed in order), float32.

Differences from ncnn: version 0 can place points past the clipped bin (its step is the unclipped bin
size) and then indexes the channel flat at y * w + x: past the right edge it reads the next row, past
the channel's end the next channel (both reproduced, ncnn_memory), past the last channel memory it
does not own (we read 0; ncnn returns garbage there). pip ncnn's bin sizes use an approximate
reciprocal of the pooled size (see roipooling.py): 1 ulp on the sample positions, and a sample count
ceil(bin) can differ when the bin size is a whole number; we divide exactly.
"""
import math

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.roipooling import feature_and_roi
from ncnnlike.layers import checks

TYPE = "ROIAlign"
HOST = True

# ModelWriter order: 0 1 2 3 4 5
PARAMS = (
    Param(0, "pooled_width", 0),
    Param(1, "pooled_height", 0),
    Param(2, "spatial_scale", 1.0),
    Param(3, "sampling_ratio", 0),
    Param(4, "aligned", 0),
    Param(5, "version", 0),
)

F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def roi_geometry(p, roi):
    """(start_x, start_y, bin_w, bin_h, roi_w, roi_h) in float32."""
    x1, y1, x2, y2 = (v * F32(p.spatial_scale) for v in roi)
    if p.aligned:
        x1, y1, x2, y2 = (v - F32(0.5) for v in (x1, y1, x2, y2))
    roi_w, roi_h = x2 - x1, y2 - y1
    if not p.aligned:
        roi_w, roi_h = max(roi_w, F32(1)), max(roi_h, F32(1))
    return x1, y1, roi_w / F32(p.pooled_width), roi_h / F32(p.pooled_height), roi_w, roi_h


def points(start, bin_size, grid):
    """Sample coordinates start + (k + 0.5) * bin / grid, k < grid, in float32."""
    k = np.arange(grid, dtype=np.float32)
    return start + (k + F32(0.5)) * bin_size / F32(grid)


def v0_axis(pos, size):
    """(low index, high index, low weight, high weight) of version 0's interpolation along one axis:
    the high index clamped to the last row / column, with weights 1, 0 then."""
    low = pos.astype(np.int64)
    high = low + 1
    w_low, w_high = high.astype(np.float32) - pos, pos - low.astype(np.float32)
    clamp = high >= size
    return low, np.where(clamp, size - 1, high), np.where(clamp, F32(1), w_low), np.where(clamp, F32(0), w_high)


def v1_axis(pos, size):
    """(low, high, w_low, w_high, inside [-1, size]) of version 1 (detectron2) along one axis."""
    inside = (pos >= -1.0) & (pos <= size)
    pos = np.where(pos <= 0, F32(0), pos)
    low = pos.astype(np.int64)
    clamp = low >= size - 1
    low = np.where(clamp, size - 1, low)
    pos = np.where(clamp, low.astype(np.float32), pos)
    frac = pos - low.astype(np.float32)
    return low, np.where(clamp, low, low + 1), F32(1) - frac, frac, inside


def point_sum(read, w, y_axis, x_axis, use):
    """Sum over the grid points (row-major, in order) of w1 v1 + w2 v2 + w3 v3 + w4 v4, a point's
    four corners read at flat index y * w + x of each channel; points where use[i, j] is False add 0."""
    (y0, y1, b0, b1), (x0, x1, a0, a1) = y_axis, x_axis
    total = 0
    for i in range(len(y0)):
        for j in range(len(x0)):
            if not use[i, j]:
                continue
            value = 0
            for weight, index in ((b0[i] * a0[j], y0[i] * w + x0[j]), (b0[i] * a1[j], y0[i] * w + x1[j]),
                                  (b1[i] * a0[j], y1[i] * w + x0[j]), (b1[i] * a1[j], y1[i] * w + x1[j])):
                value = value + F32(weight) * read(index)
            total = total + value
    return total


def ncnn_memory(feature):
    """How version 0's flat reads see the blob: channel q at q * cstep (cstep = h * w rounded up to
    4 floats, ncnn's 16-byte channel alignment), so an index past a channel's end reads its padding
    (0 here; uninitialized in ncnn) or the next channel, and past the last channel 0 (ncnn: memory
    it does not own). Returns read(index) -> the (c,) values."""
    c, h, w = feature.shape
    cstep = (h * w + 3) // 4 * 4
    memory = np.zeros(c * cstep + 1, np.float32)
    memory[:c * cstep].reshape(c, cstep)[:, :h * w] = feature.reshape(c, h * w)
    bases = np.arange(c) * cstep

    def read(index):
        at = bases + index
        return memory[np.where((at >= 0) & (at < c * cstep), at, c * cstep)]
    return read


def clipped_bin(start, bin_size, k, limit):
    """[start + k * bin, start + (k + 1) * bin] clipped to [0, limit], float32."""
    lo = min(max(start + F32(k) * bin_size, F32(0)), F32(limit))
    hi = min(max(start + F32(k + 1) * bin_size, F32(0)), F32(limit))
    return lo, hi


def version0(p, feature, geometry):
    c, h, w = feature.shape
    x1, y1, bin_w, bin_h = geometry[:4]
    read = ncnn_memory(feature)
    top = np.zeros((c, p.pooled_height, p.pooled_width), np.float32)
    for ph in range(p.pooled_height):
        hstart, hend = clipped_bin(y1, bin_h, ph, h)
        for pw in range(p.pooled_width):
            wstart, wend = clipped_bin(x1, bin_w, pw, w)
            if hend <= hstart or wend <= wstart:
                continue
            grid_h = p.sampling_ratio if p.sampling_ratio > 0 else int(math.ceil(hend - hstart))
            grid_w = p.sampling_ratio if p.sampling_ratio > 0 else int(math.ceil(wend - wstart))
            y_axis = v0_axis(points(hstart, bin_h, grid_h), h)
            x_axis = v0_axis(points(wstart, bin_w, grid_w), w)
            total = point_sum(read, w, y_axis, x_axis, np.ones((grid_h, grid_w), bool))
            top[:, ph, pw] = total / F32(grid_h * grid_w)
    return top


def version1(p, feature, geometry):
    c, h, w = feature.shape
    x1, y1, bin_w, bin_h, roi_w, roi_h = geometry
    grid_h = p.sampling_ratio if p.sampling_ratio > 0 else int(math.ceil(roi_h / F32(p.pooled_height)))
    grid_w = p.sampling_ratio if p.sampling_ratio > 0 else int(math.ceil(roi_w / F32(p.pooled_width)))
    count = F32(max(grid_h * grid_w, 1))
    channels = feature.reshape(c, h * w)
    top = np.zeros((c, p.pooled_height, p.pooled_width), np.float32)
    for ph in range(p.pooled_height):
        *y_axis, y_in = v1_axis(points(y1 + F32(ph) * bin_h, bin_h, grid_h), h)
        for pw in range(p.pooled_width):
            *x_axis, x_in = v1_axis(points(x1 + F32(pw) * bin_w, bin_w, grid_w), w)
            use = y_in[:, None] & x_in[None, :]
            top[:, ph, pw] = point_sum(lambda i: channels[:, i], w, y_axis, x_axis, use) / count
    return top


def forward(layer, p, bottoms):
    if p.pooled_width <= 0 or p.pooled_height <= 0:
        fail(layer, "pooled_width (0) and pooled_height (1) must be > 0, got %d and %d"
             % (p.pooled_width, p.pooled_height))
    if p.version not in (0, 1):
        fail(layer, "version (5) must be 0 or 1, got %d" % p.version)
    feature, roi = feature_and_roi(layer, bottoms)
    geometry = roi_geometry(p, roi)
    return [version0(p, feature, geometry) if p.version == 0 else version1(p, feature, geometry)]


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 12, "pooled_width", "pooled_height")
    checks.finite(p, 'spatial_scale')
    checks.at_least(p, 0, "sampling_ratio")
    checks.flag(p, "aligned")
    checks.between(p, 0, 1, "version")
