"""YoloDetectionOutput (yolodetectionoutput.cpp): YOLOv2 region decoding and NMS, as a host layer
(numpy, one sample at a time: the number of detections depends on the data).

Each bottom (c, h, w) holds num_box groups of 5 + num_class channels: x, y, w, h, objectness, class
logits (c / num_box, truncated, must be 5 + num_class; extra channels are ignored). Per group pp:
  class scores  softmax over the class channels (ncnn runs its Softmax layer in place on them)
  box           cx = (j + sigmoid(x)) / w, cy = (i + sigmoid(y)) / h,
                bw = exp(w) * biases[2pp] / w, bh = exp(h) * biases[2pp + 1] / h (the same biases
                for every bottom; the product first, as pip ncnn: exp(88.5) * 1.5 overflows to inf
                there too), corners cx -+ bw / 2, cy -+ bh / 2
  confidence    sigmoid(objectness) * best class score, the best class being the first maximum
                (and class 0 with score 0 if no score is > 0); kept when >= confidence_threshold
All kept boxes of all bottoms (bottom, group, row, column order) are sorted (ncnn's quicksort,
layers/nms.py) and go through one class-blind NMS at nms_threshold.
Top: (n, 6) rows label + 1 (the background class is prepended), score, x1, y1, x2, y2.

Nothing detected: ncnn runs this layer in place and then leaves its top as the first bottom, whose
class channels its softmax has overwritten; we return that blob too (measured with pip ncnn).
Differences from ncnn: pip ncnn's Softmax and sigmoid use approximate exp and reciprocal (a few ulp
on scores and boxes), so a confidence within that of the threshold, or two boxes whose IoU is
within it of nms_threshold, can decide differently.
"""
import numpy as np

from ncnnlike.layers import checks, yolo_head
from ncnnlike.layers.nms import descending_order, detection_rows, float_array, nms
from ncnnlike.layers.yolo_head import F32, fail, sigmoid

TYPE = "YoloDetectionOutput"
HOST = True

# ModelWriter order: 0 1 2 3 4
PARAMS = yolo_head.PARAMS


def softmax_classes(x, p):
    """The blob with each group's class channels replaced by their softmax over classes."""
    out = x.copy()
    per_box = x.shape[0] // p.num_box
    for pp in range(p.num_box if p.num_class else 0):
        logits = x[pp * per_box + 5: pp * per_box + 5 + p.num_class]
        e = np.exp(logits - logits.max(axis=0))
        out[pp * per_box + 5: pp * per_box + 5 + p.num_class] = e * (F32(1) / e.sum(axis=0))
    return out


def group_boxes(x, pp, p, bias):
    """(scores, labels, boxes) a group keeps, in row-major position order; x is the softmaxed blob."""
    _, h, w = x.shape
    (tx, ty, tw, th, obj), scores = yolo_head.group(x, pp, p)
    cx, cy = yolo_head.centres(tx, ty)
    with np.errstate(over="ignore"):
        bw = np.exp(tw) * bias[0] / F32(w)
        bh = np.exp(th) * bias[1] / F32(h)
    if not p.num_class:
        scores = np.zeros((1, h, w), np.float32)      # class 0 with score 0: nothing kept unless threshold <= 0
    labels = np.argmax(scores, axis=0)
    best = np.max(scores, axis=0)
    labels = np.where(best > 0, labels, 0)
    best = np.where(best > 0, best, F32(0))
    confidence = sigmoid(obj) * best
    keep = (confidence >= F32(p.confidence_threshold)).reshape(-1)
    boxes = yolo_head.corners(cx, cy, bw, bh)
    return confidence.reshape(-1)[keep], labels.reshape(-1)[keep], boxes.reshape(-1, 4)[keep]


def check(layer, p, bottoms, biases):
    yolo_head.check_counts(layer, p)
    if len(biases) < 2 * p.num_box:
        fail(layer, "biases (4) has %d values, %d boxes need %d" % (len(biases), p.num_box, 2 * p.num_box))
    if len(layer.tops) > len(bottoms):
        fail(layer, "%d tops for %d bottoms" % (len(layer.tops), len(bottoms)))
    for x in bottoms:
        yolo_head.check_bottom(layer, p, x)


def forward(layer, p, bottoms):
    bottoms = [np.asarray(b, np.float32) for b in bottoms]
    biases = float_array(p.biases)
    check(layer, p, bottoms, biases)
    softmaxed = [softmax_classes(x, p) for x in bottoms]
    parts = [group_boxes(x, pp, p, biases[2 * pp: 2 * pp + 2]) for x in softmaxed for pp in range(p.num_box)]
    scores = np.concatenate([s for s, _, _ in parts])
    if not len(scores):
        return softmaxed[:len(layer.tops)]
    labels = np.concatenate([lab for _, lab, _ in parts])
    boxes = np.concatenate([b for _, _, b in parts])
    order = descending_order(scores)
    picked = order[nms(boxes[order], p.nms_threshold)]
    return [detection_rows(labels[picked] + F32(1), scores[picked], boxes[picked])] + softmaxed[1:len(layer.tops)]


BLOBS = ((1, None), (1, None))


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    yolo_head.check_params(p)
    checks.length(p, "biases", 2 * p.num_box)
    checks.finite(p, 'confidence_threshold', 'nms_threshold', 'biases')
