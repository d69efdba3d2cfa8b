"""ACIQ method (spec 5.6): a Gaussian clipping threshold from absmax and the element count N.

ncnn's compute_aciq_gaussian_clip: sigma = absmax*2*G / sqrt(2 ln N) in double with
G = 0.175 * (1 + sqrt(pi * ln 4)), threshold = float32(alpha[bits-1] * sigma), alpha held as float32.
Blobs use 8 bits and N = c*w*h of the last sample (spec 5.6); weights use N = weights per channel.
"""
import math

import numpy as np

from ncnnlike.errors import NcnnlikeError

ALPHA_GAUSSIAN = np.array([0, 1.71063519, 2.15159277, 2.55913646, 2.93620062, 3.28691474, 3.6151146,
                           3.92403714], np.float32)
GAUSSIAN_CONST = (0.5 * 0.35) * (1 + math.sqrt(3.14159265358979323846 * math.log(4)))


def gaussian_clip(absmax, n, bits=8):
    """The clipping threshold, float32 as ncnn returns it; N <= 1 (ncnn divides by zero) gives absmax."""
    absmax = np.float32(absmax)
    if n <= 1:
        return float(absmax)
    std = float(absmax * np.float32(2)) * GAUSSIAN_CONST / math.sqrt(2 * math.log(n))
    return float(np.float32(float(ALPHA_GAUSSIAN[bits - 1]) * std))


def threshold(stats):
    """Blob threshold for 8 bits from phase-1 statistics only; 0 for an all-zero blob."""
    absmax = stats.absmax
    if absmax.samples == 0:
        raise NcnnlikeError("method aciq needs phase-1 statistics (no sample was seen)")
    return gaussian_clip(absmax.absmax, absmax.count, 8)
