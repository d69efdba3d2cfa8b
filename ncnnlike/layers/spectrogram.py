"""Spectrogram (spectrogram.cpp): short-time Fourier transform of a 1-D signal, torchaudio style.

The signal (w,) is padded by n_fft/2 on both sides when center (pad_type 0 zeros, 1 replicate,
2 reflect), cut into frames = (size - n_fft) / hoplen + 1 windows of n_fft samples, each multiplied
by the window (winlen samples of ones / periodic hann / periodic hamming, centred in n_fft with
zeros), and transformed: X[f] = sum_k v[k] (cos - i sin)(2 pi f k / n_fft). normalized 1 scales by
1/sqrt(n_fft), 2 by 1/sqrt(sum window^2).

Output layout (ncnn's): power 0 gives a 3-D blob (freqs, frames, 2) with real then imaginary part
in the innermost axis; power 1 the magnitude and power 2 its square, 2-D (freqs, frames).
freqs = n_fft/2 + 1 when onesided, else n_fft (the upper half the conjugates of the lower).

Lowering: the window, the DFT and the normalisation are one constant Conv kernel (2*freqs, 1, n_fft)
with stride hoplen, rows interleaving real and imaginary parts (the MatMul of each frame).
Params 0=n_fft, 1=power (0), 2=hoplen (n_fft/4), 3=winlen (n_fft), 4=window_type (0), 5=center (1),
6=pad_type (2), 7=normalized (0), 8=onesided (1); no weights.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Link, Param
from ncnnlike.layers import checks

TYPE = "Spectrogram"

HOPLEN_UNSET = -233   # ncnn's hoplen default is n_fft / 4, not a fixed value: resolved in lower
PAD_MODES = {0: "constant", 1: "edge", 2: "reflect"}

# ModelWriter has no branch for Spectrogram (it drops all params on re-save): schema order
PARAMS = (
    Param(0, "n_fft", 0),
    Param(1, "power", 0),
    Param(2, "hoplen", HOPLEN_UNSET),
    Param(3, "winlen", Link(0)),
    Param(4, "window_type", 0),
    Param(5, "center", 1),
    Param(6, "pad_type", 2),
    Param(7, "normalized", 0),
    Param(8, "onesided", 1),
)


def hoplen_of(p):
    """The hop: the explicit param, else n_fft / 4 as ncnn's load_param defaults it."""
    return p.n_fft // 4 if p.hoplen == HOPLEN_UNSET else p.hoplen


def _cosf(angle):
    """cosf of a double angle: ncnn passes the double to cosf, so the angle is rounded to float32
    first (for large f*k that rounding, not the DFT, dominates the difference from the exact cos)."""
    return np.cos(np.asarray(angle).astype(np.float32).astype(np.float64))


def window(n_fft, winlen, window_type):
    """The float32 window of n_fft samples: winlen samples of the chosen shape centred in zeros
    (window_type 0 ones, 1 periodic hann, 2 periodic hamming), as load_param generates it."""
    cos = _cosf(2 * np.pi * np.arange(winlen) / winlen).astype(np.float32)
    shapes = {0: np.ones(winlen, np.float32), 1: np.float32(0.5) * (1 - cos),
              2: np.float32(0.54) - np.float32(0.46) * cos}
    out = np.zeros(n_fft, np.float32)
    start = (n_fft - winlen) // 2
    out[start:start + winlen] = shapes[window_type]
    return out


def dft_cos_sin(n_fft, freqs):
    """(cos, sin) of 2 pi f k / n_fft for f < freqs, k < n_fft, as ncnn's cosf / sinf of the double
    angle give them (see _cosf), in float64."""
    angle = (2 * np.pi * np.outer(np.arange(freqs), np.arange(n_fft)) / n_fft).astype(np.float32)
    return np.cos(angle.astype(np.float64)), np.sin(angle.astype(np.float64))


def check_stft_params(layer, p, hoplen, extra=()):
    """The params ncnn's STFT layers compute something defined for; `extra` adds (ok, message)."""
    checks = [(p.n_fft >= 1, "n_fft must be >= 1, got %d" % p.n_fft),
              (hoplen >= 1, "hoplen must be >= 1, got %d" % hoplen),
              (1 <= p.winlen <= p.n_fft, "winlen must be 1..n_fft (%d), got %d" % (p.n_fft, p.winlen)),
              (p.window_type in (0, 1, 2), "window_type must be 0, 1 or 2, got %d" % p.window_type),
              (p.normalized in (0, 1, 2), "normalized must be 0, 1 or 2, got %d" % p.normalized)]
    for ok, message in checks + list(extra):
        if not ok:
            raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, message))


def check_stft(p, modes=(), flags=()):
    """The load_param checks of both STFT layers (check_params), with the layer's own 0..2 `modes`
    and 0/1 `flags`: n_fft 1..65536, winlen 1..n_fft, hoplen >= 1 unless unset."""
    checks.between(p, 1, 1 << 16, "n_fft")
    checks.between(p, 1, p.n_fft, "winlen")
    if p.hoplen != HOPLEN_UNSET:
        checks.positive(p, "hoplen")
    checks.between(p, 0, 2, "window_type", *modes, "normalized")
    checks.flag(p, "center", *flags)


def _kernel(p, freqs):
    """Conv kernel (2*freqs, 1, n_fft): rows 2f and 2f+1 give the real and imaginary part of bin f."""
    win = window(p.n_fft, p.winlen, p.window_type).astype(np.float64)
    onesided = p.n_fft // 2 + 1
    cos, sin = dft_cos_sin(p.n_fft, onesided)
    re, im = win * cos, -win * sin
    if freqs > onesided:   # the upper bins are the conjugates of the lower ones (spectrogram.cpp)
        mirror = p.n_fft - np.arange(onesided, freqs)
        re, im = np.concatenate([re, re[mirror]]), np.concatenate([im, -im[mirror]])
    if p.normalized == 1:
        re, im = re / np.sqrt(p.n_fft), im / np.sqrt(p.n_fft)
    elif p.normalized == 2:
        norm = 1 / np.sqrt(np.sum(win * win))
        re, im = re * norm, im * norm
    return np.stack([re, im], axis=1).reshape(2 * freqs, 1, p.n_fft).astype(np.float32)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    hoplen = hoplen_of(p)
    pad = p.n_fft // 2 if p.center else 0
    w = shape[-1]
    check_stft_params(layer, p, hoplen, [
        (len(shape) == 1, "expects a 1-D signal, got shape %s" % (shape,)),
        (p.power in (0, 1, 2), "power must be 0, 1 or 2, got %d" % p.power),
        (not p.center or p.pad_type in PAD_MODES, "pad_type must be 0, 1 or 2, got %d" % p.pad_type),
        (not p.center or p.pad_type != 2 or pad < w, "reflect padding by %d needs more than %d samples" % (pad, w)),
        (w + 2 * pad >= p.n_fft, "the signal (%d samples, %d padded) is shorter than n_fft %d"
         % (w, w + 2 * pad, p.n_fft))])
    freqs = p.n_fft // 2 + 1 if p.onesided else p.n_fft
    frames = (w + 2 * pad - p.n_fft) // hoplen + 1
    x = ctx.op("Unsqueeze", [ctx.bottom(layer), ctx.ints([1])])
    if pad:
        x = ctx.op("Pad", [x, ctx.ints([0, 0, pad, 0, 0, pad])], mode=PAD_MODES[p.pad_type])
    spec = ctx.op("Conv", [x, ctx.const(_kernel(p, freqs), layer.name + "_dft")], strides=[hoplen])
    spec = ctx.op("Transpose", [ctx.op("Reshape", [spec, ctx.ints([0, freqs, 2, frames])])], perm=[0, 1, 3, 2])
    if p.power == 0:
        ctx.top(layer, 0, spec, (freqs, frames, 2))
        return
    power = ctx.op("ReduceSum", [ctx.op("Mul", [spec, spec]), ctx.ints([3])], keepdims=0)
    if p.power == 1:
        power = ctx.op("Sqrt", [power])
    ctx.top(layer, 0, power, (freqs, frames))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    check_stft(p, modes=("power",), flags=("onesided",))
