"""ncnn's fixed-point bilinear resize of uint8 pixels (src/mat_pixel_resize.cpp, spec 5.2 step 4), bit-exact."""
import functools
from typing import NamedTuple

import numpy as np

from ncnnlike.errors import NcnnlikeError

try:        # the two passes compiled (_resize.c), built at install where a C compiler is found
    from ncnnlike.quant import _resize as _compiled
except ImportError:
    _compiled = None

INTER_RESIZE_COEF_SCALE = 1 << 11


def _saturate_short(x):
    """ncnn SATURATE_CAST_SHORT on float32: add +-0.5f in float32, truncate, clamp to int16."""
    half = np.where(x >= 0, np.float32(0.5), np.float32(-0.5)).astype(np.float32)
    return np.clip(np.trunc(x + half), -32768, 32767).astype(np.int32)


def _coefficients(src_size, size):
    """Source index and int16 weights of each output position (spec 5.2 step 4, both directions)."""
    scale = src_size / size
    f = ((np.arange(size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f)
    f = f - s
    s = s.astype(np.int64)
    low = s < 0
    s[low], f[low] = 0, 0
    high = s >= src_size - 1
    s[high], f[high] = src_size - 2, 1
    w0 = _saturate_short((np.float32(1) - f) * np.float32(INTER_RESIZE_COEF_SCALE))
    w1 = _saturate_short(f * np.float32(INTER_RESIZE_COEF_SCALE))
    # a 1-pixel source gives index -1 with weight 0 (ncnn reads out of bounds, times 0): clamp it
    return np.maximum(s, 0), s + 1, w0, w1


class _Plan(NamedTuple):
    """What a resize from one size to another reads where: the source rows used, the interleaved
    source columns and int32 weights of the horizontal pass, and for each output row its two rows
    among the used ones and their weights (column vectors)."""
    used: np.ndarray
    i0: np.ndarray
    i1: np.ndarray
    a0: np.ndarray
    a1: np.ndarray
    j0: np.ndarray
    j1: np.ndarray
    b0: np.ndarray
    b1: np.ndarray


@functools.lru_cache(maxsize=64)
def _plan(srch, srcw, c, w, h):
    """The _Plan of a resize of (srch, srcw, c) pixels to (h, w, c): made once per pair of sizes
    (a calibration list has a few image sizes; making it is a third of a 256x341 -> 224x224 resize)."""
    x0, x1, a0, a1 = _coefficients(srcw, w)
    y0, y1, b0, b1 = _coefficients(srch, h)
    # channels stay interleaved: row k of `rows` is (srcw*c,) and column dx*c+k is channel k of dx
    i0 = (x0[:, None] * c + np.arange(c)).ravel()
    i1 = (x1[:, None] * c + np.arange(c)).ravel()
    used = np.unique(np.concatenate([y0, y1]))
    return _Plan(used, i0, i1, np.repeat(a0, c), np.repeat(a1, c), np.searchsorted(used, y0),
                 np.searchsorted(used, y1), b0[:, None], b1[:, None])


def resize_bilinear(src, w, h):
    """ncnn resize_bilinear_c1/c3/c4: uint8 (H, W[, C]) -> uint8 (h, w[, C]), bit-exact, vectorised."""
    src = np.asarray(src)
    if src.dtype != np.uint8 or src.ndim not in (2, 3):
        raise NcnnlikeError("resize_bilinear expects a uint8 (H, W) or (H, W, C) array, got %s %s"
                            % (src.dtype, src.shape))
    if w < 1 or h < 1:
        raise NcnnlikeError("resize_bilinear target size %dx%d must be at least 1x1" % (w, h))
    planar = src.ndim == 2
    src3 = src[:, :, None] if planar else src
    srch, srcw, c = src3.shape
    plan = _plan(srch, srcw, c, int(w), int(h))
    out = (_compiled_passes if _compiled is not None else _numpy_passes)(src3, plan, int(w), int(h))
    return out[:, :, 0] if planar else out


def _compiled_passes(src3, plan, w, h):
    """The passes of resize_bilinear in one compiled call (about half the CPU of numpy's)."""
    srch, srcw, c = src3.shape
    out = np.empty((h, w, c), np.uint8)
    _compiled.bilinear(np.ascontiguousarray(src3), srcw * c, plan.used, plan.i0, plan.i1, plan.a0, plan.a1,
                       plan.j0, plan.j1, plan.b0, plan.b1, out)
    return out


def _numpy_passes(src3, plan, w, h):
    """The passes of resize_bilinear in numpy (installs without the compiled kernel)."""
    srch, srcw, c = src3.shape
    # horizontal pass once per source row used: int32 rows (S[sx]*a0 + S[sx+1]*a1) >> 4
    rows = src3.reshape(srch, srcw * c)[plan.used]
    lo = np.multiply(np.take(rows, plan.i0, axis=1), plan.a0, dtype=np.int32)
    lo += np.multiply(np.take(rows, plan.i1, axis=1), plan.a1, dtype=np.int32)
    lo >>= 4
    # vertical pass: ((b0*r0 >> 16) + (b1*r1 >> 16) + 2) >> 2, at most 255: stored as unsigned char
    r0 = np.take(lo, plan.j0, axis=0)
    r0 *= plan.b0
    r0 >>= 16
    r1 = np.take(lo, plan.j1, axis=0)
    r1 *= plan.b1
    r1 >>= 16
    r0 += r1
    r0 += 2
    r0 >>= 2
    return r0.astype(np.uint8).reshape(h, w, c)
