"""Stream calibration images through the runtime and collect per-layer statistics (spec 5.3-5.5).

The measured blob of each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) is its
`bottoms[0]`, keyed by the layer name. Phase 1 finds absmax; phase 2 (only for methods that need
it) histograms |v| over [0, absmax]. Each phase is one batched run per batch of images.

- Phase 1 reduces inside the runtime graph: a probe returns per-sample minima and maxima, not the
  blobs.
- Phase 2 takes the blobs into two sets of output buffers reused batch after batch (no fresh
  allocation, no page faults) and bins batch k on `threads` worker threads while the runtime
  computes batch k+1 (onnxruntime and numpy's binning release the GIL). Binning with ONNX ops in
  the graph was measured 4x slower than numpy; stats.py bins in cache-sized chunks.
- Idle runtime threads do not spin during calibration, so that decoding and binning get the cores.
- collect_stats keeps the decoded inputs of phase 1 for phase 2 within a fixed budget
  (cache_bytes): a small calibration set is decoded once.

Nothing is kept across batches but the statistics and those fixed-size buffers: memory does not
grow with the number of images. Histogram counts are integers, so the result does not depend on
the batch size, the thread count or the order in which the workers finish.

Shards: the statistics of consecutive shards of an image list (split_lists), computed anywhere,
merge into exactly those of one pass, in two steps:

    parts = [collect_absmax(net, shard, preprocess) for shard in shards]          # phase 1
    absmax = merge_stats(parts)                                                   # shard order
    parts = [collect_histograms(net, shard, preprocess, absmax) for shard in shards]  # phase 2
    stats = merge_stats(parts)                    # == collect_stats(net, lists, preprocess)

Every part is a CalibrationStats: save() it and load_stats() it to move it between machines.
"""
import copy
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
from tqdm import tqdm

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.stats import CalibrationStats, Histogram, LayerStats
from ncnnlike.quant.weights import CONV_TYPES

DEFAULT_CACHE_BYTES = 64 << 20      # decoded phase-1 inputs kept for phase 2


def measured_blobs(graph):
    """OrderedDict layer name -> the bottom blob ncnn2table measures for it, in param order."""
    return OrderedDict((layer.name, layer.bottoms[0]) for layer in graph if layer.type in CONV_TYPES)


def _measured_flat(ctx, blob, x):
    """(N, K) view of what ncnn2table reads of a blob: a 4-D blob's d axis is ignored (only d = 0)."""
    if len(ctx.shape(blob)) == 4:
        x = ctx.op("Gather", [x, ctx.ints(0)], axis=2)
    return ctx.op("Flatten", [x], axis=1)


def extrema_probe(ctx, blob, x):
    """Phase 1 in the graph: per-sample min and max of the measured blob."""
    flat = _measured_flat(ctx, blob, x)
    return [ctx.op("ReduceMin", [flat], axes=[1], keepdims=0), ctx.op("ReduceMax", [flat], axes=[1], keepdims=0)]


def _blobs_of(net):
    blobs = measured_blobs(net.graph)
    if not blobs:
        raise NcnnlikeError("the model has no Convolution, ConvolutionDepthWise or InnerProduct layer to calibrate")
    return blobs


def _per_sample(net, blob):
    """Elements per sample that ncnn2table reads of a blob (c*h*w; d ignored)."""
    shape = net.blob_shape(blob)
    if len(shape) == 4:
        shape = (shape[0],) + tuple(shape[2:])
    return int(np.prod(shape))


def _samples(inputs):
    return len(next(iter(inputs.values())))


def _bar(lists, label, progress):
    return tqdm(total=len(lists[0]), desc=label, unit="img", disable=not progress, leave=False)


@contextmanager
def _no_spinning(net):
    """Idle runtime threads sleep at once (ncnn's openmp_blocktime = 0) instead of spinning: the
    decoding and binning threads need those cores (measured: 30% less CPU on a busy machine)."""
    saved, net.opt.openmp_blocktime = net.opt.openmp_blocktime, 0
    try:
        yield
    finally:
        net.opt.openmp_blocktime = saved


def collect_absmax(net, lists, preprocess, batch_size=4, threads=1, progress=True, batches=None):
    """Phase 1: CalibrationStats (absmax, min, max, no histograms) of every conv layer of `net.graph`
    over the samples of `lists` (one list per Input; `batches` replaces decoding them)."""
    blobs = _blobs_of(net)
    unique = list(dict.fromkeys(blobs.values()))
    stats = CalibrationStats(blobs.keys())
    if batches is None:
        batches = iter_batches(lists, preprocess, batch_size, threads)
    with _no_spinning(net), _bar(lists, "count the absmax", progress) as bar:
        for inputs in batches:
            outputs = net.run(inputs, unique, probe=extrema_probe)
            for name, blob in blobs.items():
                lows, highs = outputs[blob]
                try:
                    stats[name].absmax.update_extrema(lows, highs, _per_sample(net, blob))
                except NcnnlikeError as e:
                    raise NcnnlikeError("layer %s: %s" % (name, e)) from None
            bar.update(_samples(inputs))
    return stats


def _bin_layers(batch_outputs, jobs, n):
    """Worker task: the histograms of some layers over the first n samples of one batch's blobs."""
    done = []
    for name, blob, absmax in jobs:
        histogram = Histogram(absmax)
        try:
            histogram.update(batch_outputs[blob][:n])
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None
        done.append((name, histogram))
    return done


def _split_jobs(net, blobs, stats, parts):
    """(name, blob, absmax) of every layer, dealt into `parts` groups of about equal element counts."""
    sizes = sorted(((_per_sample(net, blob), name, blob) for name, blob in blobs.items()), reverse=True)
    groups, load = [[] for _ in range(parts)], [0] * parts
    for size, name, blob in sizes:
        k = load.index(min(load))
        groups[k].append((name, blob, stats[name].absmax.absmax))
        load[k] += size
    return [g for g in groups if g]


class _OutputBuffers:
    """Two sets of output arrays used in turn: the runtime fills one while workers bin the other."""

    def __init__(self):
        self.sets = [None, None]        # (per-sample input shapes, blob -> array) or None

    def get(self, k, inputs):
        """Set k % 2 cut to this batch, or None when it does not exist yet or does not fit the batch."""
        found, n = self.sets[k % 2], _samples(inputs)
        if found is None or found[0] != _sample_shapes(inputs) or len(next(iter(found[1].values()))) < n:
            return None
        return {blob: array[:n] for blob, array in found[1].items()}

    def keep(self, k, inputs, outputs):
        """Adopt the arrays of a run made without buffers (the first runs, or a larger batch)."""
        if self.get(k, inputs) is None:
            self.sets[k % 2] = (_sample_shapes(inputs), outputs)


def _sample_shapes(inputs):
    return tuple((name, array.shape[1:]) for name, array in inputs.items())


def collect_histograms(net, lists, preprocess, absmax, batch_size=4, threads=1, progress=True, batches=None):
    """Phase 2: the histograms of every conv layer over the samples of `lists`, binned over the
    absmax of `absmax` (phase-1 CalibrationStats of the whole image list, e.g. merged from shards).
    Returns CalibrationStats holding a copy of that phase 1 and these samples' histograms."""
    blobs = _blobs_of(net)
    if list(absmax) != list(blobs):
        raise NcnnlikeError("the phase-1 statistics are for other layers than this model's")
    unique = list(dict.fromkeys(blobs.values()))
    stats = CalibrationStats(OrderedDict((name, LayerStats(copy.copy(absmax[name].absmax))) for name in blobs))
    stats.start_histograms()
    if batches is None:
        batches = iter_batches(lists, preprocess, batch_size, threads)
    buffers, pending, jobs = _OutputBuffers(), deque(), None

    def finish(futures):
        for future in futures:
            for name, histogram in future.result():
                stats[name].histogram.merge(histogram)

    with _no_spinning(net), ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool, \
            _bar(lists, "build histogram", progress) as bar:
        for k, inputs in enumerate(batches):
            n = _samples(inputs)
            if len(pending) == 2:               # the set this run overwrites is binned
                finish(pending.popleft())
            outputs = net.run(inputs, unique, out=buffers.get(k, inputs))
            buffers.keep(k, inputs, outputs)
            if jobs is None:
                jobs = _split_jobs(net, blobs, stats, max(1, int(threads)))
            pending.append([pool.submit(_bin_layers, outputs, group, n) for group in jobs])
            bar.update(n)
        while pending:
            finish(pending.popleft())
    return stats


class _InputCache:
    """Phase-1 batches, kept for phase 2 while their total size stays within `budget` bytes."""

    def __init__(self, lists, preprocess, batch_size, threads, budget):
        self.lists, self.preprocess, self.batch_size, self.threads = lists, preprocess, batch_size, threads
        self.budget, self.kept, self.samples = budget, [], 0
        self.full = False

    def first_pass(self):
        for inputs in iter_batches(self.lists, self.preprocess, self.batch_size, self.threads):
            size = sum(v.nbytes for v in inputs.values())
            if not self.full and size <= self.budget:
                self.kept.append(inputs)
                self.budget -= size
                self.samples += _samples(inputs)
            else:
                self.full = True
            yield inputs

    def second_pass(self):
        yield from self.kept
        if self.samples < len(self.lists[0]):
            rest = [entries[self.samples:] for entries in self.lists]
            yield from iter_batches(rest, self.preprocess, self.batch_size, self.threads)


def collect_stats(net, lists, preprocess, histogram=True, batch_size=4, threads=1, progress=True,
                  cache_bytes=DEFAULT_CACHE_BYTES):
    """CalibrationStats of every conv layer of `net.graph` over the samples of `lists`: phase 1,
    then (with `histogram`) phase 2. Up to `cache_bytes` of decoded inputs are reused by phase 2.

    Phase 2 holds two batches of all measured blobs (Lite0: 27 MB per image); measured on Lite0,
    batches of 1 to 4 images run as fast as 16 with a third of the memory."""
    cache = _InputCache(lists, preprocess, batch_size, threads, cache_bytes if histogram else 0)
    stats = collect_absmax(net, lists, preprocess, batch_size, threads, progress, cache.first_pass())
    if histogram:
        stats = collect_histograms(net, lists, preprocess, stats, batch_size, threads, progress,
                                   cache.second_pass())
    return stats


def split_lists(lists, parts):
    """Consecutive shards of a calibration set (one list per Input): [lists of shard 0, ...]."""
    count = len(lists[0])
    if not 1 <= parts <= count:
        raise NcnnlikeError("cannot split %d samples into %d shards" % (count, parts))
    bounds = [count * k // parts for k in range(parts + 1)]
    return [[entries[a:b] for entries in lists] for a, b in zip(bounds, bounds[1:])]


def merge_stats(parts):
    """One CalibrationStats from the statistics of consecutive shards, in shard order (the inputs are
    not modified). Phase-1 parts merge into the phase 1 of the whole list; phase-2 parts, made with
    that merged phase 1, into the statistics of one pass (their histograms add up)."""
    parts = list(parts)
    if not parts:
        raise NcnnlikeError("no statistics to merge")
    merged = copy.deepcopy(parts[0])
    if all(any(s.histogram is not None for s in part.values()) for part in parts):
        for part in parts[1:]:
            _check_same_phase1(merged, part)
            for name, layer in merged.items():
                try:
                    layer.histogram.merge(part[name].histogram)
                except (NcnnlikeError, AttributeError):
                    raise NcnnlikeError("layer %s: cannot merge histograms" % name) from None
        return merged
    for part in parts[1:]:
        merged.merge(part)
    return merged


def _check_same_phase1(a, b):
    """Phase-2 parts must share one phase 1 (the merged absmax of all shards)."""
    if list(a) != list(b):
        raise NcnnlikeError("cannot merge statistics of different layer lists")
    for name in a:
        if a[name].absmax != b[name].absmax:
            raise NcnnlikeError("layer %s: the histogram shards were made with different phase-1 statistics; "
                                "run phase 2 of every shard with the merged phase 1" % name)
