"""Pixels as ncnn feeds them (spec 5.2 steps 5-6): BGR -> planar channels of the pixel type, then
x*norm - mean*norm; and batches kept as their uint8 pixels until a run needs the floats.

A pixel is 0..255, so each channel's normalisation is a table of 256 float32 values: a batch is
held as uint8 indices into that table (a quarter of the float size; calibration keeps the inputs
of phase 1 for phase 2 this way, quant/input_cache.py) and looked up again exactly when it runs.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError

PIXEL_CHANNELS = {"BGR": 3, "RGB": 3, "GRAY": 1, "RGBA": 4, "BGRA": 4}


def check_pixel(pixel):
    """An image pixel type must be one of BGR, RGB, GRAY, RGBA, BGRA (RAW is invalid for images)."""
    if pixel not in PIXEL_CHANNELS:
        hint = " (RAW is not valid for images: ncnn maps it to an invalid convert type)" \
            if pixel == "RAW" else ""
        raise NcnnlikeError("unknown pixel type '%s' (expected one of %s)%s"
                            % (pixel, ", ".join(PIXEL_CHANNELS), hint))


def planes(bgr, pixel):
    """ncnn from_pixels with PIXEL_BGR[2X], kept in uint8: BGR (H, W, 3) -> planar (C, H, W)."""
    check_pixel(pixel)
    if pixel in ("BGR", "RGB"):
        return np.ascontiguousarray((bgr if pixel == "BGR" else bgr[:, :, ::-1]).transpose(2, 0, 1))
    b, g, r = (bgr[:, :, k].astype(np.int32) for k in range(3))
    if pixel == "GRAY":
        return (((r * 77 + g * 150 + b * 29) >> 8).astype(np.uint8))[None]
    alpha = np.full_like(b, 255)
    return np.stack((r, g, b, alpha) if pixel == "RGBA" else (b, g, r, alpha)).astype(np.uint8)


def _fma32(x, a, b):
    """float32 fma(x, a, b) with one rounding (x86 FMA): exact float64 product, TwoSum, round-to-odd."""
    p = x.astype(np.float64) * a.astype(np.float64)
    b = b.astype(np.float64)
    s = p + b
    bb = s - p
    err = (p - (s - bb)) + (b - bb)
    inexact_even = (err != 0) & ((s.view(np.int64) & 1) == 0)
    s = np.where(inexact_even, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def _per_channel(values, channels, default, what):
    """mean/norm list -> float32 per channel; missing entries take the default (ncnn reads past the end)."""
    values = list(values or [])
    if len(values) > channels:
        raise NcnnlikeError("%s has %d values but the input has %d channels" % (what, len(values), channels))
    out = np.full(channels, default, np.float32)
    out[:len(values)] = np.asarray(values, np.float32)
    return out


def substract_mean_normalize(mat, mean, norm):
    """ncnn Mat::substract_mean_normalize on float32 (C, ...): y = fma(x, norm, -mean*norm) (spec 5.2.6)."""
    mat = np.asarray(mat, np.float32)
    c = mat.shape[0]
    scale = _per_channel(norm, c, 1.0, "norm")
    bias = -_per_channel(mean, c, 0.0, "mean") * scale
    shape = (c,) + (1,) * (mat.ndim - 1)
    return _fma32(mat, scale.reshape(shape), bias.reshape(shape))


def pixel_table(mean, norm, channels):
    """float32 (channels, 256): the normalised value of each pixel value of each channel."""
    return substract_mean_normalize(np.tile(np.arange(256, dtype=np.float32), (channels, 1)), mean, norm)


def normalize(indices, table, channel_axis=0):
    """float32 array of uint8 pixels `indices`, channel k looked up in table[k]: by OpenCV's LUT, one
    plane at a time (a 224x224x3 image in 0.05 ms; np.take first widens the uint8 indices to intp,
    1.0 ms, in both calibration passes)."""
    import cv2     # here: pixels is imported where no image is read
    indices = np.ascontiguousarray(indices, np.uint8)
    out = np.empty(indices.shape, np.float32)
    table = np.ascontiguousarray(table, np.float32)
    for lead in np.ndindex(*indices.shape[:channel_axis]):
        for k in range(table.shape[0]):
            plane = indices[lead + (k,)]
            if plane.size:
                cv2.LUT(plane.reshape(1, -1), table[k], dst=out[lead + (k,)].reshape(1, -1))
    return out


class Pixels:
    """A batch (N, C, ...) of one image input as uint8 pixels and its normalisation table."""

    def __init__(self, indices, table):
        self.indices, self.table = indices, table

    @property
    def nbytes(self):
        return self.indices.nbytes

    def __len__(self):
        return len(self.indices)

    def expand(self):
        """The float32 batch ncnn feeds: every pixel through its channel's table."""
        return normalize(self.indices, self.table, channel_axis=1)


def expand(item):
    """A batch item as float32: Pixels expanded, a float array as it is."""
    return item.expand() if isinstance(item, Pixels) else item
