"""InverseSpectrogram (inversespectrogram.cpp): inverse STFT by windowed overlap-add, librosa style.

Input: a 3-D blob (freqs, frames, 2), real then imaginary part innermost, as Spectrogram power=0
makes it; freqs = n_fft/2 + 1 (onesided: the upper bins are the conjugates of the lower) or n_fft.
Each frame is scaled (normalized 1: sqrt(n_fft), 2: sqrt(sum window^2)), inverse-transformed,
x[i] = 1/n_fft sum_k X[k] (cos + i sin)(2 pi i k / n_fft), multiplied by the window and added at
frame * hoplen + i (- n_fft/2 when center); each output sample is then divided by the sum of the
squared windows added there (when not 0). Output length: (frames-1)*hoplen + n_fft % 2 when center
(ncnn's formula: n_fft - n_fft/2*2), else (frames-1)*hoplen + n_fft.

Output layout (ncnn's): returns 0 gives a 2-D blob (length, 2), real and imaginary part; returns 1
the real part and 2 the imaginary part, 1-D (length,).

Lowering: the spectrum mirroring, normalisation, inverse DFT and window are one constant
ConvTranspose kernel (2*freqs, parts, n_fft) with stride hoplen (overlap-add), then a slice and the
constant 1 / window-sum-square. Params 0=n_fft, 1=returns (0), 2=hoplen (n_fft/4), 3=winlen (n_fft),
4=window_type (0), 5=center (1), 7=normalized (0); no weights.
"""
import numpy as np

from ncnnlike.layers.base import Link, Param
from ncnnlike.layers.spectrogram import (HOPLEN_UNSET, check_stft, check_stft_params, dft_cos_sin, hoplen_of,
                                         window)

TYPE = "InverseSpectrogram"

# ModelWriter has no branch for InverseSpectrogram (it drops all params on re-save): schema order
PARAMS = (
    Param(0, "n_fft", 0),
    Param(1, "returns", 0),
    Param(2, "hoplen", HOPLEN_UNSET),
    Param(3, "winlen", Link(0)),
    Param(4, "window_type", 0),
    Param(5, "center", 1),
    Param(7, "normalized", 0),
)


def out_size(p, frames, hoplen):
    """inversespectrogram.cpp's output length."""
    return (frames - 1) * hoplen + (p.n_fft % 2 if p.center else p.n_fft)


def _mirrored(table, n_fft, freqs):
    """Columns k >= freqs of an (i, k) table summed onto column n_fft - k: the bins a onesided input
    leaves out are the conjugates of bin n_fft - k (zeros when the input is the full spectrum)."""
    out = np.zeros((table.shape[0], freqs))
    ks = np.arange(freqs, n_fft)
    np.add.at(out, (slice(None), n_fft - ks), table[:, ks])
    return out


def _kernel(p, freqs, parts):
    """ConvTranspose kernel (2*freqs, len(parts), n_fft): input channel 2f+r (bin f, r = re/im) to
    output part (0 real, 1 imaginary) at sample i of the frame. The inverse DFT is
    x_re[i] = sum_k re_k cos - im_k sin, x_im[i] = sum_k re_k sin + im_k cos, over the full spectrum."""
    n = p.n_fft
    win = window(n, p.winlen, p.window_type).astype(np.float64)
    scale = {0: 1.0, 1: np.sqrt(n), 2: np.sqrt(np.sum(win * win))}[p.normalized]
    cos, sin = dft_cos_sin(n, n)                                    # (i, k)
    c, s = cos[:, :freqs], sin[:, :freqs]
    cm, sm = _mirrored(cos, n, freqs), _mirrored(sin, n, freqs)     # conjugate bins: im negated
    # [output part][input r]: (i, f) coefficient tables
    table = [[c + cm, -s + sm], [s + sm, c - cm]]
    kernel = np.stack([np.stack([table[q][r] for q in parts], 0) for r in (0, 1)], 0)   # (r, part, i, f)
    kernel = kernel * ((scale / n) * win)[None, None, :, None]
    return kernel.transpose(3, 0, 1, 2).reshape(2 * freqs, len(parts), n).astype(np.float32)


def _inverse_window_sum(p, frames, hoplen, size, offset):
    """1 / (sum of squared windows at each output sample), 1 where that sum is 0."""
    win2 = window(p.n_fft, p.winlen, p.window_type).astype(np.float64) ** 2
    total = np.zeros((frames - 1) * hoplen + p.n_fft)
    for j in range(frames):
        total[j * hoplen:j * hoplen + p.n_fft] += win2
    total = total[offset:offset + size].astype(np.float32)
    return np.where(total != 0, 1 / np.where(total != 0, total, 1), 1).astype(np.float32)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    hoplen = hoplen_of(p)
    freqs = shape[0]
    check_stft_params(layer, p, hoplen, [
        (len(shape) == 3 and shape[2] == 2, "expects a 3-D (freqs, frames, 2) blob, got shape %s" % (shape,)),
        (p.returns in (0, 1, 2), "returns must be 0, 1 or 2, got %d" % p.returns),
        (freqs in (p.n_fft, p.n_fft // 2 + 1), "freqs %d must be n_fft %d or n_fft/2+1" % (freqs, p.n_fft))])
    frames = shape[1]
    size = out_size(p, frames, hoplen)
    check_stft_params(layer, p, hoplen, [(size >= 1, "the output would be empty (%d frames)" % frames)])
    parts = {0: (0, 1), 1: (0,), 2: (1,)}[p.returns]
    offset = p.n_fft // 2 if p.center else 0
    x = ctx.op("Transpose", [ctx.bottom(layer)], perm=[0, 1, 3, 2])                 # (N, freqs, 2, frames)
    x = ctx.op("Reshape", [x, ctx.ints([0, 2 * freqs, frames])])
    y = ctx.op("ConvTranspose", [x, ctx.const(_kernel(p, freqs, parts), layer.name + "_idft")],
               strides=[hoplen], kernel_shape=[p.n_fft])
    y = ctx.op("Slice", [y, ctx.ints([offset]), ctx.ints([offset + size]), ctx.ints([2])])
    y = ctx.op("Mul", [y, ctx.const(_inverse_window_sum(p, frames, hoplen, size, offset))])
    if p.returns == 0:
        ctx.top(layer, 0, ctx.op("Transpose", [y], perm=[0, 2, 1]), (size, 2))
    else:
        ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0, size])]), (size,))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    check_stft(p)
