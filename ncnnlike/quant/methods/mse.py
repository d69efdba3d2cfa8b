"""mse method: the threshold that minimises the expected squared error of symmetric int8 (127 levels).

From the histogram (values at bin centres x_i, counts n_i, exact zeros cost nothing), for each
candidate threshold T = k * absmax/2048, k = 1..2048:
  error(T) = sum_{x_i > T} n_i (x_i - T)^2            clipping of the tail
           + (number of x_i <= T) * (T/127)^2 / 12     rounding, uniform within a step
all candidates at once with suffix sums; the smallest error wins (the first on ties).
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError

LEVELS = 127


def errors(counts, absmax):
    """Expected squared error for each candidate k = 1..len(counts) (index k - 1)."""
    n = np.asarray(counts, np.float64)
    bins = len(n)
    width = float(absmax) / bins
    x = (np.arange(bins) + 0.5) * width
    T = np.arange(1, bins + 1) * width
    # suffix sums over the bins above each candidate: bins i >= k (centre above T = k*width)
    s0 = np.concatenate([np.cumsum(n[::-1])[::-1][1:], [0.0]])
    s1 = np.concatenate([np.cumsum((n * x)[::-1])[::-1][1:], [0.0]])
    s2 = np.concatenate([np.cumsum((n * x * x)[::-1])[::-1][1:], [0.0]])
    clipping = np.maximum(s2 - 2 * T * s1 + T * T * s0, 0.0)
    inside = np.cumsum(n)
    rounding = inside * (T / LEVELS) ** 2 / 12
    return clipping + rounding


def threshold(stats):
    """The error-minimising threshold; 0 for an all-zero blob."""
    histogram = stats.histogram
    if histogram is None:
        raise NcnnlikeError("method mse needs the phase-2 histogram")
    if histogram.absmax == 0 or histogram.total() == 0:
        return 0.0
    k = int(np.argmin(errors(histogram.counts, histogram.absmax))) + 1
    return k * float(histogram.absmax) / len(histogram.counts)
