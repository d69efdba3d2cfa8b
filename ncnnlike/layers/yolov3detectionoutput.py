"""Yolov3DetectionOutput (yolov3detectionoutput.cpp, run by pip ncnn as x86/yolov3detectionoutput_x86.cpp):
YOLOv3 decoding over several scales and NMS, as a host layer (numpy, one sample at a time: the
number of detections depends on the data).

Bottom b (c, h, w) holds num_box groups of 5 + num_class channels (x, y, w, h, objectness, class
logits; c / num_box, truncated, must be 5 + num_class). Group pp of bottom b uses the anchor
biases[2k], biases[2k + 1] with k = mask[b * num_box + pp], and the network size
net_w = int(anchors_scale[b] * w), net_h likewise. Per position (i, j):
  class         the first maximum of the raw class logits (class 0 with -FLT_MAX if none is larger)
  confidence    1 / (1 + exp(-objectness) * (1 + exp(-class_logit))) (ncnn's one-division form of
                sigmoid(objectness) * sigmoid(class_logit)), kept when >= confidence_threshold
  box           cx = (j + sigmoid(x)) / w, cy = (i + sigmoid(y)) / h, bw = exp(w) * (bias_w / net_w)
                (pip ncnn's -ffast-math build hoists the quotient: measured where exp(w) * bias_w
                would overflow), bh likewise, corners cx -+ bw / 2, cy -+ bh / 2; area = bw * bh
All kept boxes (bottom, group, row, column order) are sorted (ncnn's quicksort, layers/nms.py) and go
through one class-blind NMS that suppresses when inter > nms_threshold * union (union from the
areas above). Top: (n, 6) rows label + 1, score, x1, y1, x2, y2; nothing detected gives an empty top
(nms.no_detection: shape (0,)).

Params as pip ncnn reads them: mask holds float words (converters write 3.0 as 1077936128, read back
as 3.0: nms.float_words); biases and anchors_scale are float arrays (an int array by value).
pip ncnn refuses to load a mask that is not whole numbers indexing the biases, more masks than
num_box per anchors_scale, an odd or empty biases or a non-positive anchors_scale: errors here too,
as are fewer masks or anchors_scale than the bottoms need (ncnn reads past the arrays).
"""
import numpy as np

from ncnnlike.layers import checks, yolo_head
from ncnnlike.layers.base import Param
from ncnnlike.layers.nms import (FLT_MAX, descending_order, detection_rows, float_array, float_words, nms,
                                 no_detection)
from ncnnlike.layers.yolo_head import F32, fail

TYPE = "Yolov3DetectionOutput"
HOST = True

# ModelWriter order: 0 1 2 3 4 5 6
PARAMS = yolo_head.PARAMS + (
    Param(5, "mask", []),
    Param(6, "anchors_scale", []),
)


def anchors(layer, p, n_bottoms):
    """(biases (k, 2), mask as ints, anchors_scale) after pip ncnn's load-time checks."""
    biases, mask, scales = float_array(p.biases), float_words(p.mask), float_array(p.anchors_scale)
    yolo_head.check_counts(layer, p)
    if not len(biases) or len(biases) % 2:
        fail(layer, "biases (4) must hold pairs of anchor sizes, got %d values" % len(biases))
    if not len(scales) or not (scales > 0).all():
        fail(layer, "anchors_scale (6) must be positive, got %s" % scales.tolist())
    if not len(mask) or len(mask) > p.num_box * len(scales):
        fail(layer, "mask (5) has %d values for num_box %d x %d anchors_scale" % (len(mask), p.num_box, len(scales)))
    if not ((mask == np.floor(mask)) & (mask >= 0) & (mask < len(biases) // 2)).all():
        fail(layer, "mask (5) %s must index the %d anchors of biases (4)" % (mask.tolist(), len(biases) // 2))
    if len(scales) < n_bottoms or len(mask) < p.num_box * n_bottoms:
        fail(layer, "%d bottoms need %d anchors_scale and %d mask values, got %d and %d"
             % (n_bottoms, n_bottoms, p.num_box * n_bottoms, len(scales), len(mask)))
    return biases.reshape(-1, 2), mask.astype(np.int64), scales


def group_boxes(x, pp, p, bias, net_size):
    """(scores, labels, boxes, areas) a group keeps, in row-major position order."""
    _, h, w = x.shape
    (tx, ty, tw, th, obj), logits = yolo_head.group(x, pp, p)
    labels = np.argmax(logits, axis=0) if p.num_class else np.zeros((h, w), np.int64)
    best = np.max(logits, axis=0) if p.num_class else np.full((h, w), -FLT_MAX)
    labels = np.where(best > -FLT_MAX, labels, 0)
    best = np.maximum(best, -FLT_MAX)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        confidence = F32(1) / (F32(1) + np.exp(-obj) * (F32(1) + np.exp(-best)))
        keep = (confidence >= F32(p.confidence_threshold)).reshape(-1)
        cx, cy = yolo_head.centres(tx, ty)
        bw = np.exp(tw) * (bias[0] / F32(net_size[0]))     # -ffast-math hoists bias / net_w
        bh = np.exp(th) * (bias[1] / F32(net_size[1]))
        areas = bw * bh
        boxes = yolo_head.corners(cx, cy, bw, bh)
    return confidence.reshape(-1)[keep], labels.reshape(-1)[keep], boxes.reshape(-1, 4)[keep], areas.reshape(-1)[keep]


def forward(layer, p, bottoms):
    bottoms = [np.asarray(b, np.float32) for b in bottoms]
    biases, mask, scales = anchors(layer, p, len(bottoms))
    parts = []
    for b, x in enumerate(bottoms):
        yolo_head.check_bottom(layer, p, x)
        net_size = (int(scales[b] * F32(x.shape[2])), int(scales[b] * F32(x.shape[1])))
        for pp in range(p.num_box):
            parts.append(group_boxes(x, pp, p, biases[mask[b * p.num_box + pp]], net_size))
    scores = np.concatenate([part[0] for part in parts])
    if not len(scores):
        return [no_detection()]
    labels, boxes, areas = (np.concatenate([part[k] for part in parts]) for k in (1, 2, 3))
    order = descending_order(scores)
    picked = order[nms(boxes[order], p.nms_threshold, areas=areas[order], scaled=True)]
    return [detection_rows(labels[picked] + F32(1), scores[picked], boxes[picked])]


BLOBS = ((1, None), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    yolo_head.check_params(p)
    checks.finite(p, 'confidence_threshold', 'nms_threshold', 'biases', 'anchors_scale')
    checks.length(p, "mask", p.num_box * p.bottom_count)
    checks.length(p, "anchors_scale", p.bottom_count)
