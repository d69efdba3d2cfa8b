"""Counting values into ncnn2table's 2048 histogram bins (spec 5.5 step 2): min(int(|v| / absmax * 2048),
2047) in float32, the exact zeros counted apart (ncnn skips them).

Phase 2 of calibration spends most of its own time here (about 7 M values an image on Lite0), so
there are three ways to the same counts, fastest first:
- the compiled kernel (ncnnlike/quant/_bins.c, built at install when a C compiler is there): one
  pass per cached chunk, ~0.9 ns a value on Lite0's blobs;
- numpy and OpenCV in chunks (`_Binner`): ~2.2-2.7 ns a value, for installs without the kernel;
- plain numpy (`histogram_indices` + bincount): for the rare absmax whose bin width is not an exact
  float32, where dividing by the width would not bin like ncnn (`bin_width`).
"""
import functools
import sys
import threading

import numpy as np

from ncnnlike.errors import NcnnlikeError

NUM_BINS = 2048
_CHUNK = 1 << 18      # values binned at a time by _Binner (1 MB of float32; 64 Ki: 2.3 ns a value, 256 Ki: 1.65)

try:
    from ncnnlike.quant import _bins as _compiled
except ImportError:   # installed without a C compiler: the numpy/OpenCV path gives the same counts
    _compiled = None

_NAN = "non-finite value (nan) in a calibration blob"


def count_bins(values, absmax):
    """(int64 counts of the 2048 bins of all values, exact zeros included in bin 0; count of exact zeros)."""
    values = np.ascontiguousarray(values, np.float32).reshape(-1)
    width = bin_width(absmax)
    if width is None:
        return _count_by_indices(values, absmax)
    if _compiled is not None:
        return compiled_counts(values, width)
    if sys.byteorder == "little":
        return opencv_counts(values, width)
    return _count_by_indices(values, absmax)


def histogram_indices(values, absmax):
    """Bin index of each value: min(int(|v| / absmax * 2048), 2047), in float32 (spec 5.5 step 2)."""
    a = np.abs(values, dtype=np.float32)
    np.divide(a, np.float32(absmax), out=a)
    np.multiply(a, np.float32(NUM_BINS), out=a)
    np.minimum(a, np.float32(NUM_BINS - 1), out=a)      # same as clamping the int: 2047.0 is exact
    return a.astype(np.intp)


def bin_width(absmax):
    """absmax / 2048 when dividing by it bins exactly like ncnn, else None.

    fl(|v| / absmax) * 2048 == fl(|v| / (absmax / 2048)) when absmax / 2048 is an exact normal float:
    correctly rounded division commutes with a power-of-two scale; the quotients where it may not
    (subnormal, below 2**-126) are far below 1 and give bin 0 either way. Worked out once per absmax:
    phase 2 bins every measured blob of every image over the same absmax (3.5 us a time, ~50 times
    an image on Lite0)."""
    return _bin_width(float(np.float32(absmax)))


@functools.lru_cache(maxsize=1024)
def _bin_width(absmax):
    width = np.float32(absmax) / np.float32(NUM_BINS)
    if not (width >= np.finfo(np.float32).tiny and np.isfinite(width)) or width * np.float32(NUM_BINS) != absmax:
        return None
    return width


def compiled_counts(values, width):
    """count_bins through the compiled kernel: flat float32 `values`, `width` from bin_width."""
    counts = np.zeros(NUM_BINS, np.int64)
    zeros = _compiled.counts(values, float(width), counts)
    if zeros < 0:
        raise NcnnlikeError(_NAN)
    return counts, zeros


def _count_by_indices(values, absmax):
    """count_bins by plain bin indices (any absmax, any byte order)."""
    counts = np.zeros(NUM_BINS, np.int64)
    for s in range(0, values.size, _CHUNK):
        try:
            counts += np.bincount(histogram_indices(values[s:s + _CHUNK], absmax), minlength=NUM_BINS)
        except ValueError:      # nan cast to a negative index
            raise NcnnlikeError(_NAN) from None
    return counts, values.size - int(np.count_nonzero(values))


class _Binner:
    """Chunked binning with reused buffers: one division per value, the bin indices as uint16, and
    OpenCV's 8-bit histogram to count them: a little-endian uint16 is two bytes, so the counts of
    its 2048 values are the 2-D histogram (low byte 0..255) x (high byte 0..7) of a two-channel
    8-bit image. Measured: 1.65-1.9 ns a value against 2.4-3.0 for int64 indices
    through np.bincount (which first scans them for their minimum and maximum)."""

    def __init__(self):
        import cv2   # here: reading or merging statistics does not need OpenCV
        self.cv2 = cv2
        self.t = np.empty(_CHUNK, np.float32)
        self.u16 = np.empty(_CHUNK, np.uint16)

    def counts(self, values, width):
        """(int64 counts of the 2048 bins of all values, count of exact zeros) of a flat float32 array."""
        counts = np.zeros(NUM_BINS, np.int64)
        zeros = 0
        for s in range(0, values.size, _CHUNK):
            chunk = values[s:s + _CHUNK]
            n = chunk.size
            t, u16 = self.t[:n], self.u16[:n]
            np.abs(chunk, out=t)
            zeros += n - np.count_nonzero(t.view(np.int32))       # |v| is 0 exactly when its bits are
            np.divide(t, width, out=t)
            top = t.max()
            if not top <= NUM_BINS - 1:             # |v| == absmax, or beyond it, or nan
                if top != top:
                    raise NcnnlikeError(_NAN)
                np.minimum(t, np.float32(NUM_BINS - 1), out=t)
            np.copyto(u16, t, casting="unsafe")                # truncation = floor: t >= 0
            pairs = u16.view(np.uint8).reshape(-1, 1, 2)
            table = self.cv2.calcHist([pairs], [0, 1], None, [256, 8], [0, 256, 0, 8])   # [low, high]
            counts += table.T.reshape(-1).astype(np.int64)    # float32 counts of <= _CHUNK: exact
        return counts, zeros


_BINNERS = threading.local()


def _binner():
    """This thread's _Binner (binning threads each keep their own buffers)."""
    binner = getattr(_BINNERS, "binner", None)
    if binner is None:
        binner = _BINNERS.binner = _Binner()
    return binner


def opencv_counts(values, width):
    """count_bins through numpy and OpenCV (installs without the compiled kernel; little-endian)."""
    return _binner().counts(values, width)
