"""Proposal (proposal.cpp): Faster R-CNN region proposals from RPN scores and box deltas, as a host
layer (numpy, one sample at a time: the number of proposals depends on the data).

Bottoms: score (2A, h, w) (the foreground score of anchor q is channel A + q), bbox deltas (4A, h, w)
(dx dy dw dh of anchor q in channels 4q..4q+3), im_info (im_h, im_w, im_scale).
Anchors: A = 9 around (base_size / 2, base_size / 2), ratios 0.5 1 2 (outer) times scales 8 16 32
(inner), side r_w = round(base_size / sqrt(ar)), r_h = round(r_w * ar), times the scale; anchor
(q, i, j) is shifted by (j, i) * feat_stride.
Per anchor and position: cx = ax + aw / 2 + aw * dx, w = aw * exp(dw), likewise y; corners
cx -+ w / 2, clipped to [0, im_w - 1] / [0, im_h - 1]; kept if both (x2 - x1 + 1) and (y2 - y1 + 1)
are >= min_size * im_scale. Then (anchor, row, column order) sorted by score (ncnn's quicksort,
layers/nms.py), the first pre_nms_topN (if > 0) kept, NMS at nms_thresh (IoU without +1), the first
after_nms_topN kept.
Tops: rois (n, 1, 4) x1 y1 x2 y2, and optionally scores (n, 1, 1).
When no proposal survives, ncnn fails (the top Mat would be empty: status -100): an error here too.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.nms import descending_order, nms
from ncnnlike.layers.roipooling import c_round
from ncnnlike.layers import checks

TYPE = "Proposal"
HOST = True

# ModelWriter order: 0 1 2 3 4 5
PARAMS = (
    Param(0, "feat_stride", 16),
    Param(1, "base_size", 16),
    Param(2, "pre_nms_topN", 6000),
    Param(3, "after_nms_topN", 300),
    Param(4, "nms_thresh", 0.7),
    Param(5, "min_size", 16),
)

RATIOS = (0.5, 1.0, 2.0)
SCALES = (8.0, 16.0, 32.0)
F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def anchors(base_size):
    """(9, 4) anchors x1 y1 x2 y2, ratios outer, scales inner (generate_anchors)."""
    centre = F32(base_size) * F32(0.5)
    out = []
    for ar in RATIOS:
        r_w = c_round(F32(base_size) / np.sqrt(F32(ar)))
        r_h = c_round(F32(r_w) * F32(ar))
        for scale in SCALES:
            half_w, half_h = F32(r_w) * F32(scale) * F32(0.5), F32(r_h) * F32(scale) * F32(0.5)
            out.append((centre - half_w, centre - half_h, centre + half_w, centre + half_h))
    return np.asarray(out, np.float32)


def proposals(p, deltas, h, w):
    """(A * h * w, 4) decoded boxes, anchor-major then row-major, before clipping."""
    base = anchors(p.base_size)
    shift_x = np.arange(w, dtype=np.float32) * F32(p.feat_stride)
    shift_y = np.arange(h, dtype=np.float32) * F32(p.feat_stride)
    d = deltas[:4 * len(base)].reshape(len(base), 4, h, w)
    aw = (base[:, 2] - base[:, 0])[:, None, None]
    ah = (base[:, 3] - base[:, 1])[:, None, None]
    ax = base[:, 0][:, None, None] + shift_x[None, None, :]
    ay = base[:, 1][:, None, None] + shift_y[None, :, None]
    cx = ax + aw * F32(0.5) + aw * d[:, 0]
    cy = ay + ah * F32(0.5) + ah * d[:, 1]
    with np.errstate(over="ignore"):
        bw, bh = aw * np.exp(d[:, 2]), ah * np.exp(d[:, 3])
    boxes = np.stack([cx - bw * F32(0.5), cy - bh * F32(0.5), cx + bw * F32(0.5), cy + bh * F32(0.5)], axis=-1)
    return boxes.reshape(-1, 4)


def check(layer, p, score, deltas, im_info):
    if score.ndim != 3 or deltas.ndim != 3:
        fail(layer, "score and bbox bottoms must be (c, h, w), got %s and %s" % (score.shape, deltas.shape))
    if score.shape[0] < 18 or deltas.shape[0] < 36 or deltas.shape[1:] != score.shape[1:]:
        fail(layer, "9 anchors need score (18, h, w) and bbox (36, h, w) of the same h, w; got %s and %s"
             % (score.shape, deltas.shape))
    if im_info.size < 3:
        fail(layer, "im_info needs 3 values (height, width, scale), got %d" % im_info.size)
    if p.after_nms_topN <= 0:
        fail(layer, "after_nms_topN (3) must be > 0, got %d" % p.after_nms_topN)


def forward(layer, p, bottoms):
    if len(bottoms) != 3:
        fail(layer, "expected 3 bottoms (score, bbox, im_info), got %d" % len(bottoms))
    score, deltas, im_info = (np.asarray(b, np.float32) for b in bottoms)
    im_info = im_info.reshape(-1)
    check(layer, p, score, deltas, im_info)
    _, h, w = score.shape
    boxes = proposals(p, deltas, h, w)
    im_h, im_w, im_scale = im_info[:3]
    boxes[:, 0::2] = np.maximum(np.minimum(boxes[:, 0::2], im_w - F32(1)), F32(0))
    boxes[:, 1::2] = np.maximum(np.minimum(boxes[:, 1::2], im_h - F32(1)), F32(0))
    min_side = F32(p.min_size) * im_scale
    keep = ((boxes[:, 2] - boxes[:, 0] + F32(1) >= min_side) & (boxes[:, 3] - boxes[:, 1] + F32(1) >= min_side))
    boxes, scores = boxes[keep], score[9:18].reshape(-1)[keep]
    order = descending_order(scores)
    if 0 < p.pre_nms_topN < len(order):
        order = order[:p.pre_nms_topN]
    picked = order[nms(boxes[order], p.nms_thresh)][:p.after_nms_topN]
    if not len(picked):
        fail(layer, "no proposal survives (ncnn fails here with status -100)")
    tops = [boxes[picked].reshape(-1, 1, 4), scores[picked].reshape(-1, 1, 1)]
    return tops[:len(layer.tops)]


BLOBS = (3, (1, 2))


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 12, "feat_stride", "base_size")
    checks.finite(p, 'nms_thresh')
