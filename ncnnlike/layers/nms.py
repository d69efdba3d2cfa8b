"""What ncnn's detection layers share: their score sort, their greedy NMS, and how they read
float arrays from params. Not a layer type (no TYPE): detectionoutput.py, yolodetectionoutput.py,
yolov3detectionoutput.py and proposal.py use it.

Sort (qsort_descent_inplace in detectionoutput.cpp, yolodetectionoutput.cpp, proposal.cpp,
yolov3detectionoutput.cpp): a Hoare-partition quicksort, middle pivot, descending, not stable.
Equal scores end up in an order that depends on the whole array, so `descending_order` reproduces
that quicksort whenever two scores are equal (or one is NaN); with distinct scores every correct
sort gives the same order and numpy sorts.

NMS (nms_sorted_bboxes): greedy over the sorted boxes, a box is kept unless its IoU with an already
kept box exceeds the threshold; no +1 in widths, no class awareness (callers run it per class where
ncnn does). IoU is inter / union with union = area_a + area_b - inter and inter 0 when the boxes do
not touch; Yolov3DetectionOutput compares inter > threshold * union instead (`scaled=True`).
A NaN IoU (areas overflowing to inf, or 0 / 0) suppresses in the first form and not in the second:
measured with pip ncnn, whose -ffast-math build compiles the two comparisons differently.
"""
import numpy as np

FLT_MAX = np.float32(3.4028234663852886e38)


def float_array(values):
    """A float-array param (biases, min_sizes...) as pip ncnn reads it: an int array is converted
    by value (`-23300=1,60` is 60.0; measured, the reference paramdict.cpp would give bit patterns)."""
    return np.asarray(values, np.float32).reshape(-1)


def float_words(values):
    """An array as its 32-bit words read as floats: Yolov3DetectionOutput's mask keeps this older
    meaning in pip ncnn, and converters write it as the float bit patterns (`-23305=6,1077936128,...`
    is 3.0,...); float elements are themselves."""
    if values and all(isinstance(v, int) for v in values):
        return np.asarray(values, np.int64).astype(np.int32).view(np.float32)
    return np.asarray(values, np.float32).reshape(-1)


def descending_order(scores):
    """Indices that put `scores` in the order ncnn's qsort_descent_inplace leaves them."""
    scores = np.asarray(scores, np.float32)
    if scores.size < 2:
        return np.arange(scores.size)
    if not np.isnan(scores).any() and np.unique(scores).size == scores.size:
        return np.argsort(-scores, kind="stable")
    return np.asarray(_hoare_quicksort(scores.tolist()), dtype=np.int64)


def _hoare_quicksort(keys):
    """The permutation of ncnn's descending quicksort: the range is split around its middle element,
    scanning from both ends and swapping, then each side is sorted the same way."""
    order = list(range(len(keys)))
    ranges = [(0, len(keys) - 1)]
    while ranges:
        left, right = ranges.pop()
        i, j = left, right
        pivot = keys[(left + right) // 2]
        while i <= j:
            while keys[i] > pivot:
                i += 1
            while keys[j] < pivot:
                j -= 1
            if i <= j:
                keys[i], keys[j] = keys[j], keys[i]
                order[i], order[j] = order[j], order[i]
                i += 1
                j -= 1
        if left < j:
            ranges.append((left, j))
        if i < right:
            ranges.append((i, right))
    return order


def box_areas(boxes):
    """(x2 - x1) * (y2 - y1) in float32, no +1."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def intersection(box, boxes):
    """ncnn's intersection_area of one box with each of `boxes`: 0 when they do not touch."""
    apart = (box[0] > boxes[:, 2]) | (box[2] < boxes[:, 0]) | (box[1] > boxes[:, 3]) | (box[3] < boxes[:, 1])
    width = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    height = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    return np.where(apart, np.float32(0), width * height)


def nms(boxes, threshold, areas=None, scaled=False):
    """Indices (ascending) of the boxes ncnn's greedy NMS keeps; `boxes` (n, 4) float32 x1 y1 x2 y2
    already in score order. Each kept box suppresses the later ones it overlaps too much, which keeps
    the same boxes as ncnn's loop over the kept ones (IoU is symmetric)."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    threshold = np.float32(threshold)
    suppressed = np.zeros(len(boxes), bool)
    picked = []
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        areas = box_areas(boxes) if areas is None else np.asarray(areas, np.float32)
        for i in range(len(boxes)):
            if suppressed[i]:
                continue
            picked.append(i)
            inter = intersection(boxes[i], boxes[i + 1:])
            union = areas[i + 1:] + areas[i] - inter
            over = inter > threshold * union if scaled else ~(inter / union <= threshold)
            suppressed[i + 1:] |= over
    return np.asarray(picked, np.int64)


def no_detection():
    """What a detection layer's top is when it keeps nothing: ncnn leaves the Mat empty (dims 0),
    which we give as a float32 array of shape (0,) (pip ncnn's np.array() of an empty Mat crashes)."""
    return np.zeros((0,), np.float32)


def detection_rows(labels, scores, boxes):
    """The (n, 6) top of the detection layers: label, score, x1, y1, x2, y2 per row."""
    rows = np.empty((len(scores), 6), np.float32)
    rows[:, 0] = labels
    rows[:, 1] = scores
    rows[:, 2:] = np.asarray(boxes, np.float32).reshape(-1, 4)
    return rows
