"""Calibration inputs exactly as ncnn2table makes them (spec 5.1, 5.2): BGR decode, ncnn's fixed-point
bilinear resize, pixel conversion, x*norm - mean*norm; npy inputs; list files; streaming batches.

Relative paths in a list file are resolved like ncnn (against the current directory) and, when no such
file exists there, against the list file's own folder (the reference lists are written that way).
"""
import os
import re
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning
from ncnnlike.io.limits import check_size
from ncnnlike.io.numbers import ascii_float, ascii_int
from ncnnlike.quant import decode
from ncnnlike.quant.decode import DamagedImage, decode_image
from ncnnlike.quant.pixels import PIXEL_CHANNELS, Pixels, check_pixel, normalize, pixel_table, planes
from ncnnlike.quant.pixels import substract_mean_normalize  # noqa: F401  (part of this module's API)
from ncnnlike.quant.resize import resize_bilinear  # noqa: F401  (part of this module's API)

TYPE_IMAGE, TYPE_NPY = 0, 1


# ---------------------------------------------------------------- pixels, size, normalisation

def target_size(cols, rows, w, h):
    """Target (w, h) of an image cols x rows for shape [w, h] (spec 5.2 step 3, read_and_resize_image)."""
    if w <= 0 and h <= 0:
        return cols, rows
    tw, th = w, h
    if h <= 0:
        th = int(rows / float(np.float32(cols / w)))
    elif w <= 0:
        tw = int(cols / float(np.float32(rows / h)))
    if tw < 1 or th < 1:
        raise NcnnlikeError("image of %dx%d gives target size %dx%d with shape=[%d,%d]"
                            % (cols, rows, tw, th, w, h))
    return tw, th


def bgr_pixels(bgr, pixel, w, h):
    """Decoded BGR uint8 (H, W, 3) -> uint8 planes (C, h, w) of the pixel type: from_pixels_resize."""
    bgr = np.asarray(bgr)
    if bgr.dtype != np.uint8 or bgr.ndim != 3 or bgr.shape[2] != 3:
        raise NcnnlikeError("expected a uint8 BGR image (H, W, 3), got %s %s" % (bgr.dtype, bgr.shape))
    tw, th = target_size(bgr.shape[1], bgr.shape[0], w, h)
    if (tw, th) != (bgr.shape[1], bgr.shape[0]):
        bgr = resize_bilinear(bgr, tw, th)
    return planes(bgr, pixel)


def from_bgr(bgr, pixel, w, h, mean=None, norm=None):
    """Decoded BGR uint8 (H, W, 3) -> float32 (C, h, w): from_pixels_resize, then substract_mean_normalize."""
    indices = bgr_pixels(bgr, pixel, w, h)
    return normalize(indices, pixel_table(mean, norm, indices.shape[0]))


def load_pixels(path, w, h, pixel="BGR", where=None):
    """Image file -> uint8 planes (C, h, w) of the pixel type, resized as ncnn2table does (from_bgr
    without the normalisation). A damaged image is a DamagedImage error (quant/decode.py); a
    target size over the limit an error."""
    check_pixel(pixel)
    bgr = decode_image(path, where)
    tw, th = target_size(bgr.shape[1], bgr.shape[0], w, h)
    check_size("input of image '%s'%s" % (path, " (%s)" % where if where else ""),
               (PIXEL_CHANNELS[pixel], th, tw), "MAX_INPUT_ELEMENTS")
    return bgr_pixels(bgr, pixel, w, h)


def load_image(path, w, h, pixel="BGR", mean=None, norm=None, where=None):
    """Image file -> float32 (C, h, w) as ncnn2table feeds it; `where` ("list.txt line 3") goes in errors."""
    indices = load_pixels(path, w, h, pixel, where)
    return normalize(indices, pixel_table(mean, norm, indices.shape[0]))


def load_npy(path, shape, where=None):
    """float32 .npy -> array; shape is ncnn's [w, h, (d,) c]: npy_shape[rank-1-i] == shape[i] (spec 5.2)."""
    return decode.load_npy(path, tuple(reversed(list(shape))), where,
                           " for shape=[%s]" % ",".join(map(str, shape)))


# ---------------------------------------------------------------- options (spec 5.1)

@dataclass
class Preprocess:
    """How one Input blob is fed: image (type 0: w, h, pixel, mean, norm) or npy (type 1: shape)."""
    name: str
    shape: list
    pixel: str = "BGR"
    mean: list = field(default_factory=list)
    norm: list = field(default_factory=list)
    type: int = TYPE_IMAGE
    skip_bad: bool = False    # leave out samples whose image is damaged (warned and counted)

    @property
    def w(self):
        return self.shape[0]

    @property
    def h(self):
        return self.shape[1] if len(self.shape) > 1 else 0

    def load(self, path, where=None):
        """One sample of this input: float32 (C, H, W) for images, the npy array for npy."""
        if self.type == TYPE_NPY:
            return load_npy(path, self.shape, where)
        return load_image(path, self.w, self.h, self.pixel, self.mean, self.norm, where)

    def load_pixels(self, path, where=None):
        """One sample as load() gives it, but an image as its uint8 planes (C, H, W) (see table())."""
        if self.type == TYPE_NPY:
            return load_npy(path, self.shape, where)
        return load_pixels(path, self.w, self.h, self.pixel, where)

    def table(self, channels):
        """float32 (channels, 256): each pixel value's normalised value (pixels.pixel_table)."""
        return pixel_table(self.mean, self.norm, channels)


def parse_lists(key, value, number):
    """'[104,117,123],[128]' (or a bare '104,117,123') -> [[104.0, 117.0, 123.0], [128.0]]."""
    text = value.strip()
    groups = re.findall(r"\[([^\]]*)\]", text) if "[" in text else [text]
    if "[" in text and re.sub(r"\[[^\]]*\]", "", text).strip(", ") != "":
        raise NcnnlikeError("%s=%s: expected bracketed lists like [1,2,3],[4]" % (key, value))
    lists = []
    for group in groups:
        try:
            lists.append([number(v) for v in group.split(",") if v.strip() != ""])
        except ValueError:
            raise NcnnlikeError("%s=%s: '%s' is not a list of numbers (finite, ASCII decimal)" % (key, value, group)) from None
        if not lists[-1]:
            raise NcnnlikeError("%s=%s: empty list" % (key, value))
        if not np.all(np.isfinite(np.asarray(lists[-1], np.float64).astype(np.float32))):
            raise NcnnlikeError("%s=%s: values must be finite float32 numbers" % (key, value))
    return lists


def _per_input(key, lists, names):
    if len(lists) != len(names):
        raise NcnnlikeError("%s= has %d list%s but the model has %d input%s"
                            % (key, len(lists), "" if len(lists) == 1 else "s",
                               len(names), "" if len(names) == 1 else "s"))
    return lists


def parse_preprocess(options, input_names):
    """ncnn2table options {mean, norm, shape, pixel, type} -> one Preprocess per Input, in param order.

    shape= is required; mean= absent means no mean, norm= absent means no norm, pixel= absent means BGR
    (ncnn2table requires all four for images)."""
    names = list(input_names)
    skip_bad = str(options.get("skip_bad", "0")).strip()
    if skip_bad not in ("0", "1"):
        raise NcnnlikeError("skip_bad=%s: expected 0 (a damaged image is an error) or 1 (skip it with a warning)"
                            % skip_bad)
    preps = _parse_preprocess(options, names)
    for prep in preps:
        prep.skip_bad = skip_bad == "1"
    return preps


def _parse_preprocess(options, names):
    """parse_preprocess without skip_bad."""
    ftype = str(options.get("type", "0")).strip()
    if ftype not in ("0", "1"):
        raise NcnnlikeError("type=%s: expected 0 (images) or 1 (npy)" % ftype)
    ftype = int(ftype)
    if "shape" not in options:
        raise NcnnlikeError("shape= is required, e.g. shape=[224,224,3]")
    shapes = _per_input("shape", parse_lists("shape", options["shape"], ascii_int), names)
    for shape in shapes:
        check_size("shape=%s" % options["shape"], [max(int(v), 1) for v in shape], "MAX_INPUT_ELEMENTS")
    if ftype == TYPE_NPY:
        for key in ("mean", "norm", "pixel"):
            if key in options:
                raise NcnnlikeError("%s= is not used with type=1 (npy inputs are fed as they are)" % key)
        for shape in shapes:
            if not 1 <= len(shape) <= 4 or min(shape) < 1:
                raise NcnnlikeError("shape=%s: npy shapes are 1 to 4 positive sizes [w,h,(d,)c]"
                                    % options["shape"])
        return [Preprocess(n, s, type=TYPE_NPY) for n, s in zip(names, shapes)]
    for shape in shapes:
        if len(shape) not in (2, 3):
            raise NcnnlikeError("shape=%s: image shapes are [w,h] or [w,h,c]" % options["shape"])
    means = _per_input("mean", parse_lists("mean", options["mean"], ascii_float), names) \
        if "mean" in options else [[]] * len(names)
    norms = _per_input("norm", parse_lists("norm", options["norm"], ascii_float), names) \
        if "norm" in options else [[]] * len(names)
    for norm in norms:
        if norm and all(v == 0 for v in norm):
            raise NcnnlikeError("norm=%s: a norm list of zeros makes every input 0" % options["norm"])
    pixel_text = re.sub(r"[\[\]]", "", options.get("pixel", ",".join(["BGR"] * len(names))))
    pixels = [p.strip().upper() for p in pixel_text.split(",")]
    _per_input("pixel", pixels, names)
    preps = []
    for name, shape, pixel, mean, norm in zip(names, shapes, pixels, means, norms):
        check_pixel(pixel)
        for what, values in (("mean", mean), ("norm", norm)):
            if len(values) > PIXEL_CHANNELS[pixel]:
                raise NcnnlikeError("%s=%s: input '%s' has %d channels with pixel=%s but %d values"
                                    % (what, options[what], name, PIXEL_CHANNELS[pixel], pixel, len(values)))
        preps.append(Preprocess(name, shape, pixel, mean, norm))
    return preps


# ---------------------------------------------------------------- list files and batches

class ListEntry(NamedTuple):
    """One sample path and where it came from (for error messages)."""
    path: str
    list_file: str
    line: int

    @property
    def where(self):
        return "%s line %d" % (self.list_file, self.line)


def read_list(path):
    """List file -> [ListEntry]: first whitespace-free token of each non-blank line (spec 5.1)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise NcnnlikeError("cannot read list file '%s': %s" % (path, exc.strerror)) from None
    folder = os.path.dirname(os.path.abspath(path))
    entries = []
    for number, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            continue
        sample = tokens[0]
        if "\0" in sample:   # a binary file given as a list: no path holds a NUL byte
            raise NcnnlikeError("list file '%s' line %d: a NUL byte in the path (not a text list file)"
                                % (path, number))
        if not os.path.isabs(sample) and not os.path.exists(sample):
            beside = os.path.join(folder, sample)
            sample = beside if os.path.exists(beside) else sample
        entries.append(ListEntry(sample, path, number))
    if not entries:
        raise NcnnlikeError("list file '%s' has no entries" % path)
    return entries


def read_lists(paths):
    """One list file per Input, all of the same length: sample i is line i of every list (spec 5.1)."""
    lists = [read_list(p) for p in paths]
    lengths = {len(entries) for entries in lists}
    if len(lengths) > 1:
        raise NcnnlikeError("list files have different lengths: %s"
                            % ", ".join("%s (%d)" % (p, len(e)) for p, e in zip(paths, lists)))
    return lists


def _stack(arrays, prep, entries):
    """Stack one input's samples into (N, ...); images of different sizes cannot share a batch."""
    for entry, array in zip(entries, arrays):
        if array.shape != arrays[0].shape:
            raise NcnnlikeError("input '%s': samples %s and %s have different shapes %s and %s;"
                                " give shape=[w,h] or use batches of 1"
                                % (prep.name, entries[0].where, entry.where, arrays[0].shape, array.shape))
    return np.stack(arrays)


def _loader(prep, pixels):
    """The function reading one sample of `prep`: its load_pixels in pixel mode, if it has one."""
    return getattr(prep, "load_pixels", prep.load) if pixels else prep.load


def _batch(stacked, prep, pixels):
    """A stacked batch as yielded: uint8 image pixels read by load_pixels become Pixels with their table."""
    if pixels and hasattr(prep, "load_pixels") and stacked.dtype == np.uint8:
        return Pixels(stacked, prep.table(stacked.shape[1]))
    return stacked


def _results(futures, lists, start, skip_bad):
    """Each input's loaded arrays, without the samples that hold a damaged image when skip_bad
    (each skipped with a warning naming file and line); (arrays per input, entries per input)."""
    bad = set()
    for fs, entries in zip(futures, lists):
        for k, f in enumerate(fs):
            exc = f.exception()
            if exc is None:
                continue
            if not (skip_bad and isinstance(exc, DamagedImage)):
                raise exc
            warnings.warn(NcnnlikeWarning("skipped: %s" % exc))
            bad.add(k)
    keep = [k for k in range(len(futures[0])) if k not in bad]
    return ([[fs[k].result() for k in keep] for fs in futures],
            [[entries[start + k] for k in keep] for entries in lists])


def iter_batches(lists, preprocess, batch_size, threads=1, consumed=None, pixels=False, ahead=1):
    """Yield {input name: float32 (N, ...)} for consecutive samples, in list order, N <= batch_size.
    `consumed`, a list, gets the number of list entries read so far appended before each yield
    (skip_bad can make a batch hold fewer samples than the entries it read). With `pixels`, an
    image input comes as pixels.Pixels (its uint8 pixels and table: expand() gives the floats).

    Decoding runs on a thread pool of `threads` (cv2 and numpy release the GIL) and reads `ahead`
    batches ahead, so it overlaps the caller's work on the current batch (and, further ahead, a
    session being built before the first run); results do not depend on `threads` nor `ahead`.
    A damaged image is an error, unless a Preprocess has skip_bad (model2table skip_bad=1): then
    its sample is left out with a warning, and the count is reported at the end."""
    if len(lists) != len(preprocess):
        raise NcnnlikeError("%d list files for %d model inputs" % (len(lists), len(preprocess)))
    count = len(lists[0])
    if any(len(entries) != count for entries in lists):
        raise NcnnlikeError("list files have different lengths: %s" % [len(e) for e in lists])
    batch_size = max(1, int(batch_size))
    skip_bad = any(getattr(prep, "skip_bad", False) for prep in preprocess)
    used = 0

    with ThreadPoolExecutor(max_workers=max(1, int(threads))) as pool:
        def submit(start):
            stop = min(count, start + batch_size)
            return start, stop, [[pool.submit(_loader(prep, pixels), e.path, e.where) for e in entries[start:stop]]
                                 for prep, entries in zip(preprocess, lists)]

        pending = deque([submit(0)])
        while pending:
            while len(pending) <= max(1, int(ahead)) and pending[-1][1] < count:
                pending.append(submit(pending[-1][1]))
            start, stop, futures = pending.popleft()
            arrays, entries = _results(futures, lists, start, skip_bad)
            if not arrays[0]:
                continue
            used += len(arrays[0])
            if consumed is not None:
                consumed.append(stop)
            yield {prep.name: _batch(_stack(a, prep, e), prep, pixels)
                   for prep, a, e in zip(preprocess, arrays, entries)}
    if used < count:
        if not used:
            raise NcnnlikeError("skip_bad=1: all %d samples hold a damaged image, nothing to calibrate on" % count)
        warnings.warn(NcnnlikeWarning("skip_bad=1: skipped %d damaged sample%s of %d"
                                      % (count - used, "" if count - used == 1 else "s", count)))
