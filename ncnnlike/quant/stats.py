"""Streaming per-layer activation statistics (absmax, 2048-bin histogram): constant memory, mergeable.

Calibration (spec 5.5 steps 1-2, 5.6) makes two passes over the images: phase 1 finds each layer's
absmax, phase 2 histograms |v| over [0, absmax]. Each statistic is a small object with
`update(batch)`, `merge(other)` and `save/load`, so shards of an image list can be processed on
different machines and combined: merging in list order gives exactly the result of one pass.
A batch is an array (N, *blob_shape) of N samples of one layer's bottom blob (ncnn shape, no batch).
"""
import math
import zipfile
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import atomic_open
from ncnnlike.quant.bins import NUM_BINS, count_bins

_FORMAT = "ncnnlike-calibration-stats-1"
_KEYS = {"names", "absmax", "min", "max", "count", "samples", "has_histogram", "hist_absmax", "hist_counts",
         "hist_zeros"}


def measured(batch):
    """The part of a batch ncnn2table reads: float32, and for a 4-D blob (c, d, h, w) only d = 0.

    spec 5.5 step 1: ncnn walks c channels of w*h values, so a 4-D blob's d axis is ignored.
    """
    batch = np.asarray(batch)
    if batch.dtype != np.float32:
        batch = batch.astype(np.float32)
    if batch.ndim == 5:
        batch = batch[:, :, 0]
    if batch.ndim < 2:
        raise NcnnlikeError("statistics need a batch (N, *blob_shape), got an array of shape %s" % (batch.shape,))
    return batch


class AbsMax:
    """Phase 1: absmax over all values, min/max for reporting, and the per-sample element count.

    `count` is c*w*h of the last sample seen (spec 5.6: ACIQ's N is assigned, not summed).
    """

    def __init__(self):
        self.absmax = np.float32(0.0)
        self.min = np.float32(np.inf)
        self.max = np.float32(-np.inf)
        self.count = 0
        self.samples = 0

    def update(self, batch):
        batch = measured(batch)
        if batch.size == 0:
            return
        flat = batch.reshape(batch.shape[0], -1)
        self.update_extrema(flat.min(axis=1), flat.max(axis=1), flat.shape[1])

    def update_extrema(self, lows, highs, count):
        """Phase 1 from per-sample minima and maxima reduced elsewhere (in the runtime graph);
        `count` is the per-sample element count. Same result as update() on the samples. Called
        for every measured blob of every run (50 a Lite0 image): the float32 extrema are compared
        as Python floats, which hold them exactly (8 -> 1 us a call: ~0.35 ms of an aciq image's ~16 ms of CPU)."""
        lows, highs = np.asarray(lows, np.float32), np.asarray(highs, np.float32)
        if lows.size == 0:
            return
        lo, hi = (float(lows[0]), float(highs[0])) if lows.size == 1 else (float(lows.min()), float(highs.max()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise NcnnlikeError("non-finite value (inf or nan) in a calibration blob")
        if lo < self.min:
            self.min = np.float32(lo)
        if hi > self.max:
            self.max = np.float32(hi)
        top = max(-lo, hi)
        if top > self.absmax:
            self.absmax = np.float32(top)
        self.count = int(count)
        self.samples += lows.size

    def merge(self, other):
        """Combine with the statistics of the samples that come *after* ours."""
        self.absmax = np.float32(max(self.absmax, other.absmax))
        self.min = np.float32(min(self.min, other.min))
        self.max = np.float32(max(self.max, other.max))
        if other.samples:
            self.count = other.count
        self.samples += other.samples
        return self

    def __eq__(self, other):
        return (isinstance(other, AbsMax) and self.absmax == other.absmax and self.min == other.min
                and self.max == other.max and self.count == other.count and self.samples == other.samples)

    def save(self, path):
        save_stats(path, {"": LayerStats(self)})

    @staticmethod
    def load(path):
        return _load_single(path).absmax


class Histogram:
    """Phase 2: 2048 uint64 bins of |v| over [0, absmax] (absmax fixed by phase 1); exact zeros skipped.

    The skipped zeros are counted apart (`zeros`) for methods that want them; KL never sees them.
    """

    def __init__(self, absmax):
        self.absmax = np.float32(absmax)
        self.counts = np.zeros(NUM_BINS, np.uint64)
        self.zeros = 0

    def update(self, batch):
        batch = measured(batch).reshape(-1)
        if batch.size == 0:
            return
        if self.absmax == 0:
            if np.count_nonzero(batch):
                raise NcnnlikeError("histogram over absmax 0 received non-zero values (phase 1 saw other data)")
            self.zeros += batch.size
            return
        counts, zeros = count_bins(batch, self.absmax)
        counts[0] -= zeros                 # exact zeros landed in bin 0; ncnn skips them
        self.counts += counts.astype(np.uint64)
        self.zeros += zeros

    def merge(self, other):
        if other.absmax != self.absmax:
            raise NcnnlikeError("cannot merge histograms over different absmax (%r vs %r): run phase 2 with "
                                "the merged phase-1 absmax" % (float(self.absmax), float(other.absmax)))
        self.counts += other.counts
        self.zeros += other.zeros
        return self

    def total(self):
        return int(self.counts.sum())

    def __eq__(self, other):
        return (isinstance(other, Histogram) and self.absmax == other.absmax
                and np.array_equal(self.counts, other.counts) and self.zeros == other.zeros)

    def save(self, path):
        stats = LayerStats(AbsMax())
        stats.absmax.absmax = self.absmax
        stats.histogram = self
        save_stats(path, {"": stats})

    @staticmethod
    def load(path):
        histogram = _load_single(path).histogram
        if histogram is None:
            raise NcnnlikeError("%s: the statistics file holds no histogram" % path)
        return histogram


class LayerStats:
    """What the methods see for one layer: its AbsMax and (after phase 2) its Histogram."""

    def __init__(self, absmax=None, histogram=None):
        self.absmax = absmax if absmax is not None else AbsMax()
        self.histogram = histogram

    def start_histogram(self):
        """Begin phase 2 over [0, absmax] of phase 1."""
        self.histogram = Histogram(self.absmax.absmax)
        return self.histogram

    def merge(self, other):
        self.absmax.merge(other.absmax)
        if self.histogram is not None and other.histogram is not None:
            self.histogram.merge(other.histogram)
        elif self.histogram is not None or other.histogram is not None:
            raise NcnnlikeError("cannot merge statistics with a histogram and statistics without one")
        return self

    def __eq__(self, other):
        return isinstance(other, LayerStats) and self.absmax == other.absmax and self.histogram == other.histogram


class CalibrationStats(OrderedDict):
    """layer name -> LayerStats, in param order; the unit that is merged, saved and loaded."""

    def __init__(self, names=()):
        """Empty statistics for these layer names (a mapping is copied as is, as dict.copy does)."""
        if isinstance(names, dict):
            super().__init__(names)
        else:
            super().__init__((name, LayerStats()) for name in names)

    def update_absmax(self, name, batch):
        try:
            self[name].absmax.update(batch)
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None

    def start_histograms(self):
        for stats in self.values():
            stats.start_histogram()

    def update_histogram(self, name, batch):
        try:
            self[name].histogram.update(batch)
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None

    def merge(self, other):
        """Combine with the statistics of a later shard of the same image list (same layers)."""
        if list(self) != list(other):
            raise NcnnlikeError("cannot merge statistics of different layer lists")
        for name, stats in self.items():
            try:
                stats.merge(other[name])
            except NcnnlikeError as e:
                raise NcnnlikeError("layer %s: %s" % (name, e)) from None
        return self

    def save(self, path):
        save_stats(path, self)

    @staticmethod
    def load(path):
        return load_stats(path)


def save_stats(path, stats):
    """Write name -> LayerStats to one .npz, atomically (temp file, then rename)."""
    names = list(stats)
    layers = list(stats.values())
    has_hist = [s.histogram is not None for s in layers]
    arrays = {
        "format": np.array(_FORMAT),
        "names": np.array(names, dtype=str),
        "absmax": np.array([s.absmax.absmax for s in layers], np.float32),
        "min": np.array([s.absmax.min for s in layers], np.float32),
        "max": np.array([s.absmax.max for s in layers], np.float32),
        "count": np.array([s.absmax.count for s in layers], np.int64),
        "samples": np.array([s.absmax.samples for s in layers], np.int64),
        "has_histogram": np.array(has_hist, bool),
        "hist_absmax": np.array([s.histogram.absmax if h else 0 for s, h in zip(layers, has_hist)], np.float32),
        "hist_counts": np.array([s.histogram.counts if h else np.zeros(NUM_BINS, np.uint64)
                                 for s, h in zip(layers, has_hist)], np.uint64).reshape(len(layers), NUM_BINS),
        "hist_zeros": np.array([s.histogram.zeros if h else 0 for s, h in zip(layers, has_hist)], np.int64),
    }
    with atomic_open(path, "wb") as f:
        np.savez(f, **arrays)


def load_stats(path):
    """Read a file written by save_stats into a CalibrationStats."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise NcnnlikeError("%s: cannot read calibration statistics (%s)" % (path, e)) from None
    if data.get("format") is None or str(data["format"]) != _FORMAT or not _KEYS <= set(data):
        raise NcnnlikeError("%s: not an ncnnlike calibration statistics file" % path)
    stats = CalibrationStats()
    for i, name in enumerate(data["names"].tolist()):
        absmax = AbsMax()
        absmax.absmax, absmax.min, absmax.max = data["absmax"][i], data["min"][i], data["max"][i]
        absmax.count, absmax.samples = int(data["count"][i]), int(data["samples"][i])
        histogram = None
        if data["has_histogram"][i]:
            histogram = Histogram(data["hist_absmax"][i])
            histogram.counts = data["hist_counts"][i].copy()
            histogram.zeros = int(data["hist_zeros"][i])
        stats[name] = LayerStats(absmax, histogram)
    return stats


def _load_single(path):
    stats = load_stats(path)
    if len(stats) != 1:
        raise NcnnlikeError("%s: expected the statistics of one layer, found %d" % (path, len(stats)))
    return next(iter(stats.values()))
