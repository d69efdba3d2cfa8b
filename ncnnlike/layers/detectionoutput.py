"""DetectionOutput (detectionoutput.cpp): SSD box decoding, per-class NMS and top-k, as a host layer
(numpy, one sample at a time: the number of detections depends on the data).

Bottoms: location (4 per prior: dx dy dw dh), confidence (num_class per prior), priorbox.
  Caffe SSD    priorbox is PriorBox's (2, 4 * num_prior): row 0 the priors x1 y1 x2 y2, row 1 the
               variances; confidence is prior-major (prior j, class i at j * num_class + i).
  MXNet SSD    num_class = -233: priorbox is (num_prior, 4) priors, variances are params 5..8,
               confidence is class-major (num_class, num_prior).
Decoding (CENTER_SIZE): cx = v0 * dx * pw + pcx, cy likewise, w = exp(v2 * dw) * pw, h likewise;
a prior is decoded only if its background score is below 1 - confidence_threshold.
For each class but the background (0): the priors scoring > confidence_threshold, sorted (ncnn's
quicksort, layers/nms.py), the first nms_top_k kept, NMS at nms_threshold; then all classes
together sorted again and the first keep_top_k kept.
Top: (n, 6) rows label, score, x1, y1, x2, y2 in that order; nothing detected gives an empty top
(nms.no_detection: shape (0,)).

Differences from ncnn: where ncnn uses the box of a prior it did not decode (its background score
>= 1 - confidence_threshold while another class scores > confidence_threshold: impossible with
softmax scores) it reads uninitialized memory; we decode every prior. Bottoms whose channels ncnn
pads in memory (3-D/4-D blobs with h * w not a multiple of 4) are refused, as ncnn indexes them flat.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.nms import descending_order, detection_rows, nms, no_detection
from ncnnlike.layers import checks

TYPE = "DetectionOutput"
HOST = True

# ModelWriter order: 0 1 2 3 4 5 6 7 8
PARAMS = (
    Param(0, "num_class", 0),
    Param(1, "nms_threshold", 0.05),
    Param(2, "nms_top_k", 300),
    Param(3, "keep_top_k", 100),
    Param(4, "confidence_threshold", 0.5),
    Param(5, "variance0", 0.1),
    Param(6, "variance1", 0.1),
    Param(7, "variance2", 0.2),
    Param(8, "variance3", 0.2),
)

F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def flat(layer, blob, what):
    """A bottom's values as ncnn indexes them (flat), refusing layouts with per-channel padding."""
    if blob.ndim >= 3 and blob.shape[0] > 1 and int(np.prod(blob.shape[1:])) % 4:
        fail(layer, "%s blob of shape %s: ncnn reads it flat through its channel padding; flatten it first"
             % (what, blob.shape))
    return blob.reshape(-1)


def inputs(layer, p, bottoms):
    """(loc (n, 4), scores (n, num_class), priors (n, 4), variances (n, 4) or (4,)) of the n priors."""
    if len(bottoms) != 3:
        fail(layer, "expected 3 bottoms (location, confidence, priorbox), got %d" % len(bottoms))
    if p.num_class < 0 and p.num_class != -233:
        fail(layer, "num_class (0) must be >= 0, or -233 for MXNet SSD, got %d" % p.num_class)
    location, confidence, priorbox = bottoms
    mxnet = p.num_class == -233
    if mxnet:
        num_prior = priorbox.shape[-2] if priorbox.ndim >= 2 else 1
        num_class = confidence.shape[-2] if confidence.ndim >= 2 else 1
        priors = flat(layer, priorbox, "priorbox")[:4 * num_prior]
        variances = np.array([p.variance0, p.variance1, p.variance2, p.variance3], np.float32)
    else:
        rows = priorbox.reshape(-1, priorbox.shape[-1]) if priorbox.ndim >= 2 else priorbox[None]
        if rows.shape[0] < 2:
            fail(layer, "priorbox of shape %s: expected 2 rows (priors, variances)" % (priorbox.shape,))
        num_prior, num_class = priorbox.shape[-1] // 4, p.num_class
        priors, variances = rows[0][:4 * num_prior], rows[1][:4 * num_prior].reshape(-1, 4)
    loc = flat(layer, location, "location")
    conf = flat(layer, confidence, "confidence")
    if loc.size < 4 * num_prior or conf.size < num_prior * max(num_class, 1) or priors.size < 4 * num_prior:
        fail(layer, "%d priors need %d location and %d confidence values, got %d and %d"
             % (num_prior, 4 * num_prior, num_prior * num_class, loc.size, conf.size))
    if mxnet:
        scores = conf[:num_class * num_prior].reshape(num_class, num_prior).T
    else:
        scores = conf[:num_prior * num_class].reshape(num_prior, num_class)
    return loc[:4 * num_prior].reshape(-1, 4), scores, priors.reshape(-1, 4), variances


def decode(loc, priors, variances):
    """CENTER_SIZE decoding of every prior, in ncnn's float32 order of operations."""
    variances = np.broadcast_to(variances, loc.shape)
    pw = priors[:, 2] - priors[:, 0]
    ph = priors[:, 3] - priors[:, 1]
    pcx = (priors[:, 0] + priors[:, 2]) * F32(0.5)
    pcy = (priors[:, 1] + priors[:, 3]) * F32(0.5)
    cx = variances[:, 0] * loc[:, 0] * pw + pcx
    cy = variances[:, 1] * loc[:, 1] * ph + pcy
    with np.errstate(over="ignore"):
        w = np.exp(variances[:, 2] * loc[:, 2]) * pw
        h = np.exp(variances[:, 3] * loc[:, 3]) * ph
    half_w, half_h = w * F32(0.5), h * F32(0.5)
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)


def class_detections(p, boxes, class_scores):
    """(scores, boxes) one class keeps: threshold, sort, nms_top_k, NMS."""
    candidates = np.nonzero(class_scores > F32(p.confidence_threshold))[0]
    scores = class_scores[candidates]
    order = descending_order(scores)[:p.nms_top_k]
    scores, chosen = scores[order], boxes[candidates[order]]
    picked = nms(chosen, p.nms_threshold)
    return scores[picked], chosen[picked]


def forward(layer, p, bottoms):
    if p.nms_top_k < 0 or p.keep_top_k < 0:
        fail(layer, "nms_top_k (2) and keep_top_k (3) must be >= 0, got %d and %d" % (p.nms_top_k, p.keep_top_k))
    loc, scores, priors, variances = inputs(layer, p, [np.asarray(b, np.float32) for b in bottoms])
    boxes = decode(loc, priors, variances)
    labels, kept_scores, kept_boxes = [], [], []
    for label in range(1, scores.shape[1]):
        class_scores, class_boxes = class_detections(p, boxes, scores[:, label])
        labels.append(np.full(len(class_scores), label, np.float32))
        kept_scores.append(class_scores)
        kept_boxes.append(class_boxes)
    if not labels or not sum(len(s) for s in kept_scores):
        return [no_detection()]
    labels, kept_scores, kept_boxes = np.concatenate(labels), np.concatenate(kept_scores), np.concatenate(kept_boxes)
    order = descending_order(kept_scores)[:p.keep_top_k]
    if not len(order):
        return [no_detection()]
    return [detection_rows(labels[order], kept_scores[order], kept_boxes[order])]


BLOBS = ((2, 5), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    if p.num_class != -233:   # -233: MXNet layout, the class count taken from the bottom
        checks.positive(p, "num_class")
    checks.between(p, 1, 1 << 20, "nms_top_k", "keep_top_k")
    checks.finite(p, 'nms_threshold', 'confidence_threshold', 'variance0', 'variance1', 'variance2', 'variance3')
