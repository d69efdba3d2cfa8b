"""percentile method: the threshold below which a given fraction of |v| lies, read from the histogram.

All values count, exact zeros included (they sit at 0); within a bin the values are taken as
uniformly spread, so the threshold is interpolated linearly inside the bin that holds the percentile.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError

DEFAULT_PERCENTILE = 99.99


def threshold(stats, percentile=DEFAULT_PERCENTILE):
    """|v| at `percentile` (0 < p <= 100); at least one bin width; 0 for an all-zero blob."""
    if not 0 < percentile <= 100:
        raise NcnnlikeError("percentile must be in (0, 100], got %r" % (percentile,))
    histogram = stats.histogram
    if histogram is None:
        raise NcnnlikeError("method percentile needs the phase-2 histogram")
    counts = histogram.counts.astype(np.float64)
    if histogram.absmax == 0 or counts.sum() == 0:
        return 0.0
    width = float(histogram.absmax) / len(counts)
    cumulative = histogram.zeros + np.cumsum(counts)
    target = percentile / 100.0 * cumulative[-1]
    if target <= histogram.zeros:
        return width
    b = int(np.searchsorted(cumulative, target))
    below = cumulative[b - 1] if b > 0 else float(histogram.zeros)
    value = (b + (target - below) / counts[b]) * width
    return float(min(max(value, width), float(histogram.absmax)))
