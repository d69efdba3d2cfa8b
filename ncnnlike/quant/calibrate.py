"""Stream calibration images through the runtime and collect per-layer statistics (spec 5.3-5.5).

The measured blob of each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) is its
`bottoms[0]`, keyed by the layer name. Phase 1 finds absmax; phase 2 (only for methods that need
it) histograms |v| over [0, absmax]. Each phase is one batched run per batch of images.

- Both phases run on workers (quant/workers.py), each running whole batches on its own core as
  ncnn2table's threads do (Lite0, 2 cores: 46 -> 28.5 ms of wall a sample over both phases), each
  with its own statistics, merged at the end. As many workers as `threads` allows while their runs'
  measured blobs stay within WORKERS_BYTES; the other threads split each run (_plan).
- Phase 1 reduces inside the runtime graph: a probe returns per-sample minima and maxima, not the
  blobs (Lite0: 16 ms of CPU a sample against 25 for taking the blobs out and reducing them in
  numpy; 13-14 ms in onnxruntime's own saved optimized model, runtime/reloaded.py, and 1 ms less
  with the blobs reduced in onnxruntime's blocked layout, runtime/reorders.py); by our op
  ncnnlike.Extrema where the custom-op library is built (quant/probes.py: one pass where ReduceMin
  and ReduceMax take two; aciq on 500 images 8-10% less time: tools/bench_calib_ops.py). Its session
  is released before phase 2 builds its own (release_sessions: dropped and malloc_trim'd, else
  glibc kept 50 MB of it through phase 2).
- Phase 2 bins inside the runtime graph where the custom-op library is built (quant/probes.py):
  each measured blob goes to the op ncnnlike.Histogram over its phase-1 absmax, in the blocked
  layout as phase 1's reductions, and a run returns only counts. One session, as phase 1, and no
  blob memory (A/B in one run: kl on 500 images 11.5% less wall and CPU than taking the blobs out,
  on 100 4-5%). Without the library, or when samples of the blobs are kept, each worker
  takes the blobs into its own set of output arrays, reused batch after batch (no fresh
  allocation, no page faults: Lite0's blobs are 27 MB per image), and bins them before its next
  run. Where they are more than SEGMENT_BYTES a sample, the graph then runs in segments
  (quant/segments.py), each taking out and binning its part of the blobs: Lite0 in three, at most
  10 MB a worker (peak RSS 204 -> 176-185 MB on 100 images). Unless samples are kept, the blobs come out in whatever order of each sample's
  values onnxruntime holds them (runtime/reorders.py: Lite0 15-16 -> 10.6-10.7 ms a run), which
  histograms do not see. The runs hold at most OUTPUT_BYTES of measured blobs each (one Lite0 image),
  whatever the batch size images are decoded in (_run_size). Binning with ONNX ops in the
  graph was measured 4x slower (ScatterElements: 25 ns a value); quant/bins.py bins with a
  compiled kernel (quant/_bins.c): 0.9-1.15 ns a value on Lite0's blobs, 6-8 ms of CPU a sample,
  against 2.2-2.7 ns for numpy and OpenCV's 8-bit histogram (the path of installs without it).
- Idle runtime threads do not spin during calibration, so that decoding and binning get the cores.
- collect_stats keeps the decoded inputs of phase 1 for phase 2 within a fixed budget
  (cache_bytes, quant/input_cache.py: images as their uint8 pixels, in a temporary file, not in
  memory): 1700 images at 224x224 are decoded once.

Nothing is kept across batches but the statistics and those fixed-size buffers: memory does not
grow with the number of images (it grows with the workers, at most WORKERS_BYTES of blobs: Lite0
on 100 PNG images peaks at ~164-166 MB with 2 workers, on 500 JPEG images at 187-193 MB;
model2table runs one glibc arena
and a reloaded session trims the heap once built: runtime/heap.py). Histogram counts
are integers, so the result does not depend on the batch size, the thread count or the order in
which the workers finish.

Shards: the statistics of consecutive shards of an image list (split_lists), computed anywhere,
merge into exactly those of one pass, in two steps:

    parts = [collect_absmax(net, shard, preprocess) for shard in shards]          # phase 1
    absmax = merge_stats(parts)                                                   # shard order
    parts = [collect_histograms(net, shard, preprocess, absmax) for shard in shards]  # phase 2
    stats = merge_stats(parts)                    # == collect_stats(net, lists, preprocess)

Every part is a CalibrationStats: save() it and load_stats() it to move it between machines.
"""
import copy
import itertools
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant import probes
from ncnnlike.quant.probes import extrema_probe
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.input_cache import InputCache as _InputCache
from ncnnlike.quant.segments import SegmentArrays, SegmentPlans, run_segments, shape_key
from ncnnlike.quant.stats import CalibrationStats, LayerStats
from ncnnlike.quant.weights import CONV_TYPES
from ncnnlike.quant.workers import InOrder, run_workers

DEFAULT_CACHE_BYTES = 256 << 20     # decoded phase-1 inputs kept for phase 2 (uint8 pixels, in a temporary file)
OUTPUT_BYTES = 32 << 20             # measured blobs of one run (at least one sample)
WORKERS_BYTES = 128 << 20           # measured blobs of the runs in flight at once, all workers together
SEGMENT_BYTES = 12 << 20            # measured blobs a pass-2 run takes out per sample (quant/segments.py)


def measured_blobs(graph):
    """OrderedDict layer name -> the bottom blob ncnn2table measures for it, in param order."""
    return OrderedDict((layer.name, layer.bottoms[0]) for layer in graph if layer.type in CONV_TYPES)


def _blobs_of(net):
    blobs = measured_blobs(net.graph)
    if not blobs:
        raise NcnnlikeError("the model has no Convolution, ConvolutionDepthWise or InnerProduct layer to calibrate")
    return blobs


def _per_sample(net, blob):
    """Elements per sample that ncnn2table reads of a blob of the most recent run."""
    return _count(net.blob_shape(blob))


def _samples(inputs):
    return len(next(iter(inputs.values())))


class _NoBar:
    """What a phase's progress bar does when nobody can see one: nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass


def _bar(lists, label, progress):
    """The phase's tqdm bar on stderr when it is a terminal (tqdm's own rule, disable=None), else
    _NoBar: then tqdm is not even imported (its import reads the installed packages' metadata,
    ~30 ms of every run's start-up, measured)."""
    if not progress or not _isatty(sys.stderr):
        return _NoBar()
    from tqdm import tqdm
    return tqdm(total=len(lists[0]), desc=label, unit="img", disable=None, leave=False)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):     # no stream, or a closed one
        return False


@contextmanager
def _worker_runs(net, intra):
    """The runs of a phase on worker threads (quant/workers.py), `intra` onnxruntime threads each,
    whose idle threads sleep at once (ncnn's openmp_blocktime = 0) instead of spinning on cores
    that decoding and binning need."""
    saved = net.opt.num_threads, net.opt.openmp_blocktime
    net.opt.num_threads, net.opt.openmp_blocktime = intra, 0
    try:
        yield
    finally:
        net.opt.num_threads, net.opt.openmp_blocktime = saved


def _merge_workers(results):
    """One CalibrationStats from the workers' (stats, last index): merged in the order of the last
    sample each worker ran, so that what AbsMax takes from the last sample (its element count)
    comes from the last sample of the list, as in one sequential pass."""
    ordered = [stats for stats, _ in sorted(results, key=lambda pair: pair[1])]
    merged = ordered[0]
    for stats in ordered[1:]:
        merged.merge(stats)
    return merged


def collect_absmax(net, lists, preprocess, batch_size=4, threads=1, progress=True, batches=None):
    """Phase 1: CalibrationStats (absmax, min, max, no histograms) of every conv layer of `net.graph`
    over the samples of `lists` (one list per Input; `batches` replaces decoding them), reduced in
    the runtime graph (extrema_probe: no blob leaves it), on `threads` workers."""
    blobs = _blobs_of(net)
    unique = list(dict.fromkeys(blobs.values()))
    if batches is None:
        batches = iter_batches(lists, preprocess, batch_size, threads)
    shapes = _RunShapes(net)

    def work(stats, index, inputs):
        outputs, counts = shapes.run(inputs, unique, probe=extrema_probe)
        for name, blob in blobs.items():
            lows, highs = outputs[blob]
            try:
                stats[name].absmax.update_extrema(lows, highs, counts[blob])
            except NcnnlikeError as e:
                raise NcnnlikeError("layer %s: %s" % (name, e)) from None
        bar.update(_samples(inputs))

    runs, workers, intra = _plan(shapes, batches, batch_size, threads)
    with _worker_runs(net, intra), _bar(lists, "count the absmax", progress) as bar:
        results = run_workers(runs, workers, lambda: CalibrationStats(blobs.keys()), work)
    return _merge_workers(results)


def _rebatch(batches, size):
    """The samples of `batches` ({input: (N, ...)}) in batches of at most `size`, in order."""
    for inputs in batches:
        n = _samples(inputs)
        for start in range(0, n, size):
            yield inputs if n <= size else {k: v[start:start + size] for k, v in inputs.items()}


def run_shapes(net, inputs, unique):
    """{blob: ncnn shape} of every blob the measured blobs `unique` need, for inputs shaped like
    `inputs` (lowered, nothing runs), or None when they cannot be lowered in one graph (host
    layers: staged runs)."""
    from ncnnlike.runtime.lower import lower_shapes
    from ncnnlike.runtime.staged import host_layers
    try:
        if host_layers(net.graph, unique, inputs):
            return None
        ctx = lower_shapes(net.graph, {name: array.shape[1:] for name, array in inputs.items()}, unique)
    except NcnnlikeError:
        return None
    return {blob: ctx.shape(blob) for blob in ctx.blobs()}


def _sample_bytes(shapes):
    """Bytes of one sample's measured blobs, or None for staged runs (no shapes ahead of a run)."""
    return None if shapes is None else 4 * sum(int(np.prod(shape)) for shape in shapes.values())


def _run_size(sample_bytes, batch_size, limit=OUTPUT_BYTES):
    """`batch_size`, cut so that the measured blobs of one run stay within `limit`: onnxruntime's
    working memory grows with them (Lite0: 27 MB of measured blobs per image; a batch of 4 made
    phase 1 peak at 350 MB, one image at 180 MB, for the same time per image)."""
    if sample_bytes is None:
        return max(1, int(batch_size))
    return max(1, min(int(batch_size), limit // max(sample_bytes, 1)))


def _plan(shapes, batches, batch_size, threads, run_bytes=None):
    """(runs, workers, intra-op threads per run) for a phase: the batches cut into runs of
    _run_size (decided on the first batch, its shapes found through `shapes`, a _RunShapes), and
    the `threads` cores shared out as workers, each running whole runs, as long as the measured
    blobs of the runs in flight stay within WORKERS_BYTES (Lite0: 27 MB a sample, so up to 4
    workers); the rest become intra-op threads. A model with bigger samples (a detector at 640x640)
    gets one worker with every thread, as a staged graph does (host layers: its runs go one at a
    time anyway). `run_bytes(inputs)`: the bytes per sample that a run holds when the graph runs in
    segments (pass 2), else None."""
    threads = max(1, int(threads))
    batches = iter(batches)
    first = next(batches, None)
    if first is None:
        return iter(()), 1, threads
    sample_bytes, limit = _sample_bytes(shapes.get(first)), OUTPUT_BYTES
    segment_bytes = None if sample_bytes is None or run_bytes is None else run_bytes(first)
    if segment_bytes is not None:
        sample_bytes, limit = segment_bytes, SEGMENT_BYTES
    size = _run_size(sample_bytes, batch_size, limit)
    workers = 1 if sample_bytes is None else max(1, min(threads, WORKERS_BYTES // max(size * sample_bytes, 1)))
    return _rebatch(itertools.chain([first], batches), size), workers, max(1, threads // workers)


class _RunShapes:
    """The measured blobs' shapes for each per-sample shape of the inputs, found once (lowered,
    nothing runs) and shared by the workers; None for staged runs (host layers), whose shapes
    come from the net after each run, one run at a time."""

    def __init__(self, net):
        self.net = net
        self.unique = list(dict.fromkeys(_blobs_of(net).values()))
        self.found = {}           # shape key -> (every lowered blob's shape, the measured ones', their
        #                           per-sample element counts) or None
        self.lock = threading.Lock()
        self.staged = threading.Lock()

    def _found(self, inputs):
        key = shape_key(inputs)
        with self.lock:
            if key not in self.found:
                shapes = run_shapes(self.net, inputs, self.unique)
                self.found[key] = None if shapes is None else (
                    shapes, {b: shapes[b] for b in self.unique}, {b: _count(shapes[b]) for b in self.unique})
            return self.found[key]

    def get(self, inputs):
        """{measured blob: ncnn shape}, or None for staged runs."""
        found = self._found(inputs)
        return None if found is None else found[1]

    def lowered(self, inputs):
        """{blob: ncnn shape} of every blob the lowering makes (segments.SegmentPlans), or None."""
        found = self._found(inputs)
        return None if found is None else found[0]

    def run(self, inputs, blobs, probe=None, out=None, any_order=False):
        """net.run and the per-sample element count ncnn2table reads of each blob (_per_sample; worked
        out once per input shape, not for every blob of every run)."""
        found = self._found(inputs)
        if found is None:
            with self.staged:
                outputs = self.net.run(inputs, blobs, probe=probe, out=out)
                return outputs, {blob: _per_sample(self.net, blob) for blob in blobs}
        return self.net.run(inputs, blobs, probe=probe, out=out, any_order=any_order), found[2]


def _count(shape):
    """Elements per sample that ncnn2table reads of a blob of this ncnn shape (c*h*w; d ignored)."""
    if len(shape) == 4:
        shape = (shape[0],) + tuple(shape[2:])
    return int(np.prod(shape))


class _OutputArrays:
    """One worker's set of output arrays, made for its first run and reused by every run whose batch
    fits it (made by us, not by the first run: that one would hold onnxruntime's copy and ours at once)."""

    def __init__(self, shapes):
        self.shapes = shapes      # _RunShapes
        self.found = None         # (per-sample input shapes, blob -> array)

    def get(self, inputs):
        """The arrays cut to this batch, or None when the runs are staged (host layers: no out=)."""
        n, key = _samples(inputs), shape_key(inputs)
        if self.found is None or self.found[0] != key or len(next(iter(self.found[1].values()))) < n:
            shapes = self.shapes.get(inputs)
            if shapes is None:
                return None
            self.found = (key, {blob: np.empty((n,) + tuple(shape), np.float32) for blob, shape in shapes.items()})
        return {blob: array[:n] for blob, array in self.found[1].items()}


class _HistogramWorker:
    """A phase-2 worker's own output arrays and histograms."""

    def __init__(self, shapes, absmax):
        self.arrays = _OutputArrays(shapes)
        self.segment_arrays = SegmentArrays()
        self.stats = CalibrationStats(OrderedDict((name, LayerStats(copy.copy(absmax[name].absmax)))
                                                  for name in absmax))
        self.stats.start_histograms()

    def bin(self, blobs, outputs, n):
        for name, blob in blobs.items():
            try:
                self.stats[name].histogram.update(outputs[blob][:n])
            except NcnnlikeError as e:
                raise NcnnlikeError("layer %s: %s" % (name, e)) from None

    def add(self, blobs, probe, outputs, counts, n):
        """A run binned in the graph (probes.HistogramProbe): its counts added."""
        for name, blob in blobs.items():
            try:
                probe.add_to(self.stats[name].histogram, blob, outputs[blob], counts[blob] * n)
            except NcnnlikeError as e:
                raise NcnnlikeError("layer %s: %s" % (name, e)) from None


def collect_histograms(net, lists, preprocess, absmax, batch_size=4, threads=1, progress=True, batches=None,
                       samples=None):
    """Phase 2: the histograms of every conv layer over the samples of `lists`, binned over the
    absmax of `absmax` (phase-1 CalibrationStats of the whole image list, e.g. merged from shards),
    on `threads` workers that each run a batch and bin it. Returns CalibrationStats holding a copy
    of that phase 1 and these samples' histograms. `samples` (a samples.BlobSamples) also keeps
    the first samples of the measured blobs, in list order."""
    blobs = _blobs_of(net)
    if list(absmax) != list(blobs):
        raise NcnnlikeError("the phase-1 statistics are for other layers than this model's")
    unique = list(dict.fromkeys(blobs.values()))
    if batches is None:
        batches = iter_batches(lists, preprocess, batch_size, threads)
    shapes, gate = _RunShapes(net), InOrder()
    in_graph = samples is None and probes.available()
    probe = probes.HistogramProbe({blob: absmax[name].absmax.absmax for name, blob in blobs.items()}) \
        if in_graph else None
    plans = SegmentPlans(net, unique, SEGMENT_BYTES, shapes.lowered) \
        if samples is None and not in_graph else None

    def work(worker, index, inputs):
        n = _samples(inputs)
        if in_graph:
            outputs, counts = shapes.run(inputs, unique, probe=probe)
            worker.add(blobs, probe, outputs, counts, n)
            bar.update(n)
            return
        plan = None if plans is None else plans.ready(inputs)
        if plan is not None and len(plan[0]) > 1:
            run_segments(net, plan, worker.segment_arrays, inputs, lambda made: worker.bin(
                OrderedDict((name, blob) for name, blob in blobs.items() if blob in made), made, n))
            bar.update(n)
            return
        outputs, _ = shapes.run(inputs, unique, out=worker.arrays.get(inputs), any_order=samples is None)
        if samples is not None:
            with gate.turn(index):
                samples.update(outputs, n)
        worker.bin(blobs, outputs, n)
        bar.update(n)

    runs, workers, intra = _plan(shapes, batches, batch_size, threads, plans and plans.run_bytes)
    with _worker_runs(net, intra), _bar(lists, "build histogram", progress) as bar:
        results = run_workers(runs, workers, lambda: _HistogramWorker(shapes, absmax), work, gate)
    merged = results[0][0].stats
    for worker, _ in results[1:]:       # the same phase 1 in each: only the counts add up
        for name, layer in merged.items():
            layer.histogram.merge(worker.stats[name].histogram)
    return merged


def collect_stats(net, lists, preprocess, histogram=True, batch_size=4, threads=1, progress=True,
                  cache_bytes=DEFAULT_CACHE_BYTES, samples=None):
    """CalibrationStats of every conv layer of `net.graph` over the samples of `lists`: phase 1,
    then (with `histogram`) phase 2. Up to `cache_bytes` of decoded inputs are reused by phase 2;
    `samples` (a samples.BlobSamples, needs `histogram`) keeps the first samples of each measured blob.

    Phase 2 holds the measured blobs of one run per worker, at most OUTPUT_BYTES, or SEGMENT_BYTES
    a sample in segments (Lite0: 10 MB of its 27 per image); each phase has its own onnxruntime
    sessions, released when the phase ends."""
    cache = _InputCache(lists, preprocess, batch_size, threads, cache_bytes if histogram else 0)
    try:
        stats = collect_absmax(net, lists, preprocess, batch_size, threads, progress, cache.first_pass())
        release_sessions(net)   # phase 1's session goes before phase 2 builds its own
        if histogram:
            stats = collect_histograms(net, lists, preprocess, stats, batch_size, threads, progress,
                                       cache.second_pass(), samples)
    finally:
        cache.close()
    release_sessions(net)   # its memory goes back before the methods run (KL's search takes 40 MB)
    return stats


def release_sessions(net):
    """Drop the net's onnxruntime sessions and hand their freed memory back to the system. glibc
    keeps freed blocks for reuse, and the next session allocates other sizes: without
    malloc_trim, 50 MB of Lite0's phase-1 session stayed resident through phase 2."""
    from ncnnlike.runtime import heap
    net.clear()
    heap.trim()


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
