"""Calibration's pass 2 in consecutive runs of the graph, each taking out a part of the measured blobs.

One run that takes out every measured blob holds all of them until they are binned: Lite0's 50
blobs are 27 MB an image, and two workers held two such sets, the largest part of model2table's
peak memory. Cut in layer order into segments of at most about SEGMENT_BYTES (calibrate.py), a
worker runs a segment, bins its blobs, and hands on to the next segment only the blobs still
needed later (Lite0: three segments of at most 10 MB, one tensor of 0.06-0.3 MB at each cut).
Measured with tools/bench_vs_ncnn.py --jobs kl --clean, 100 images, 2 workers: peak RSS 204-205 ->
176-185 MB, the same CPU time.

A segment is lowered from the blobs it is handed (runtime.lower takes any blob as an input), so
nothing is computed twice; the other outputs come in onnxruntime's blocked order
(runtime/reorders.py), the handed-on ones in order. Cuts are placed where the blobs crossing them
are smallest, within a window around the equal-bytes point. A graph whose layers are not in
producing order (ncnn loads those too) stays one segment.

The same values are binned, up to float32 rounding: the layer after a cut reads a graph input, for
which onnxruntime may pick another kernel (yolo-fastest: values 1 ulp apart, max 7e-7), so a few
values can land in a neighbouring bin. Lite0's tables on the golden images are byte for byte those
of one run (tests/cli/test_model2table.py); the plan depends only on the model and the input
shape, so a table does not depend on threads, batches or shards.
"""
import threading
from collections import namedtuple

import numpy as np

MAX_SEGMENTS = 8
WINDOW = 0.3        # a cut may move this fraction of a segment's bytes from the equal-bytes point

# inputs: blobs handed in (None: the graph's own inputs); outputs: measured blobs it takes out;
# passes: blobs it hands to the next segments (taken out in order, never in any order)
Segment = namedtuple("Segment", "inputs outputs passes")


def plan_segments(graph, measured, shapes, max_bytes):
    """[Segment] covering the `measured` blobs (in order, unique) of `graph`, each taking out at most
    about `max_bytes` of them per sample; `shapes` maps every blob of the graph's lowering (ncnn
    shape, no batch) to its shape. One segment when they fit, or when the graph cannot be cut."""
    sizes = {blob: _bytes((blob,), shapes) for blob in measured}
    total = sum(sizes.values())
    count = min(MAX_SEGMENTS, -(-total // max(1, int(max_bytes))), len(measured))
    order = _producing_order(graph, measured, shapes)
    if count <= 1 or order is None:
        return [Segment(None, tuple(measured), ())]
    producers, crossing = order
    cuts = _cuts(graph, measured, sizes, producers, crossing, count, shapes)
    segments = _segments(measured, producers, crossing, cuts)
    if not all(segment.passes for segment in segments[:-1]):    # a part computed from no input
        return [Segment(None, tuple(measured), ())]
    return segments


def _producing_order(graph, measured, shapes):
    """(blob -> index of the layer that makes it, layer index i -> blobs made at or before i and read
    after it that the measured blobs need, i.e. that `shapes` has), or None when a blob is read
    before it is made."""
    producers, last_read = {}, {}
    for i, layer in enumerate(graph.layers):
        for blob in layer.bottoms:
            if blob not in producers:
                return None
            last_read[blob] = i
        for blob in layer.tops:
            producers[blob] = i
    if any(blob not in producers for blob in measured):
        return None
    crossing = {}
    for blob, made in producers.items():
        for i in range(made, last_read.get(blob, made) if blob in shapes else made):
            crossing.setdefault(i, []).append(blob)
    return producers, crossing


def _cuts(graph, measured, sizes, producers, crossing, count, shapes):
    """Layer indices after which to cut: for each k, the cut within WINDOW of k/count of the bytes
    whose crossing blobs are the smallest (then the nearest the equal-bytes point)."""
    total = sum(sizes.values())
    made = np.zeros(len(graph.layers))
    for blob in measured:
        made[producers[blob]] += sizes[blob]
    before = np.cumsum(made)            # bytes of measured blobs made at or before each layer
    cuts = []
    for k in range(1, count):
        aim = total * k / count
        window = [i for i in range(len(graph.layers) - 1)
                  if abs(before[i] - aim) <= WINDOW * total / count and 0 < before[i] < total
                  and (not cuts or i > cuts[-1])]
        if not window:
            continue
        cuts.append(min(window, key=lambda i: (_bytes(crossing.get(i, ()), shapes), abs(before[i] - aim))))
    return cuts


def _bytes(blobs, shapes):
    return sum(4 * int(np.prod(shapes[blob])) for blob in blobs)


def _segments(measured, producers, crossing, cuts):
    """The Segments between the cuts."""
    bounds = [-1] + cuts + [max(producers.values())]
    segments = []
    for k, (start, end) in enumerate(zip(bounds, bounds[1:])):
        outputs = tuple(blob for blob in measured if start < producers[blob] <= end)
        passes = tuple(crossing.get(end, ())) if k < len(cuts) else ()
        inputs = None if k == 0 else segments[-1].passes
        segments.append(Segment(inputs, outputs, passes))
    return segments


class SegmentPlans:
    """The segments of `blobs` (measured, unique) of `net.graph` for each per-sample shape of the
    inputs, planned once and shared by the workers: (segments, blob -> ncnn shape). `lowered(inputs)`
    gives the shape of every blob the lowering for `blobs` makes (calibrate._RunShapes.lowered: one
    lowering serves both), or None for staged runs (host layers: no shapes ahead of a run, no plan)."""

    def __init__(self, net, blobs, max_bytes, lowered):
        self.net, self.blobs, self.max_bytes, self.lowered = net, blobs, max_bytes, lowered
        self.found, self.built = {}, set()
        self.lock = threading.Lock()

    def get(self, inputs):
        key = shape_key(inputs)
        with self.lock:
            if key not in self.found:
                self.found[key] = self._plan(inputs)
            return self.found[key]

    def _plan(self, inputs):
        shapes = self.lowered(inputs)
        if shapes is None:
            return None
        return plan_segments(self.net.graph, self.blobs, shapes, self.max_bytes), shapes

    def ready(self, inputs):
        """get(), with every segment's session built first (once, in the calling worker's settings):
        a build takes memory for a moment, better before any run holds its blobs than beside one."""
        plan = self.get(inputs)
        with self.lock:
            if plan is not None and len(plan[0]) > 1 and shape_key(inputs) not in self.built:
                segments, shapes = plan
                for segment in segments:
                    given = _per_sample(inputs) if segment.inputs is None else \
                        {blob: shapes[blob] for blob in segment.inputs}
                    self.net.prepare(given, run_outputs(segment), out=True, any_order=in_any_order(segment))
                self.built.add(shape_key(inputs))
        return plan

    def run_bytes(self, inputs):
        """Bytes per sample of what the largest segment's run takes out; None for one segment."""
        plan = self.get(inputs)
        if plan is None or len(plan[0]) < 2:
            return None
        segments, shapes = plan
        return max(_bytes(run_outputs(segment), shapes) for segment in segments)


def _per_sample(inputs):
    """{input: per-sample shape} of a batch."""
    return {name: array.shape[1:] for name, array in inputs.items()}


def shape_key(inputs):
    """A batch's per-sample input shapes, as a key: ((input, shape), ...)."""
    return tuple((name, array.shape[1:]) for name, array in inputs.items())


def in_any_order(segment):
    """The outputs of a segment that may come in any order: all but those it hands on."""
    return [blob for blob in segment.outputs if blob not in segment.passes]


def run_outputs(segment):
    """What a segment's run takes out, in the order of its session's outputs."""
    return in_any_order(segment) + list(segment.passes)


class SegmentArrays:
    """One worker's output arrays: one buffer for the measured blobs of the segment that runs (each
    segment's are views of it), and arrays of their own for the blobs a segment hands on, which
    must outlive the next segment's run."""

    def __init__(self):
        self.buffer = None
        self.passed = {}

    def get(self, index, segment, shapes, n):
        """blob -> (n, *shape) float32 array for every output of `segment` (the index-th)."""
        taken = in_any_order(segment)
        need = n * _bytes(taken, shapes) // 4
        if self.buffer is None or self.buffer.size < need:
            self.buffer = np.empty(need, np.float32)
        out, start = {}, 0
        for blob in taken:
            size = n * int(np.prod(shapes[blob]))
            out[blob] = self.buffer[start:start + size].reshape((n,) + tuple(shapes[blob]))
            start += size
        for blob in segment.passes:
            array = self.passed.get((index, blob))
            if array is None or len(array) < n:
                array = self.passed[(index, blob)] = np.empty((n,) + tuple(shapes[blob]), np.float32)
            out[blob] = array[:n]
        return out


def run_segments(net, plan, arrays, inputs, done):
    """Run the segments of `plan` on the batch `inputs`, one after the other, into `arrays` (a
    SegmentArrays): done({blob: array}) sees the measured blobs each segment makes (once each,
    though a blob may be handed across several cuts) before the next segment runs."""
    segments, shapes = plan
    feeds, n = inputs, len(next(iter(inputs.values())))
    for index, segment in enumerate(segments):
        out = arrays.get(index, segment, shapes, n)
        outputs = net.run(feeds, run_outputs(segment), out=out, any_order=in_any_order(segment))
        done({blob: outputs[blob] for blob in segment.outputs})
        feeds = {blob: outputs[blob] for blob in segment.passes}
