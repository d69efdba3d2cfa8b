"""Reading one sample file safely: images (checked size, damage detected) and .npy arrays (header first).

Images: the header's width x height is checked against MAX_IMAGE_PIXELS before anything is decoded
(PNG, JPEG, BMP, GIF; other formats by OpenCV's own limit, set to the same value). cv2 decodes the
bytes while the C-level stderr (file descriptor 2) is redirected to a capture file: libjpeg and
libpng report damage only there ("Premature end of JPEG file" for a truncated file that still
decodes, grey below the cut), so a message there means a damaged image: an error naming the file
and the list line, and no library line reaches the terminal (a few about images that are fine,
such as libpng's colour-profile warnings, are dropped). Decodes take turns for this (the
redirect is process-wide); what Python printed meanwhile from another thread (our progress bars
and lines, the interpreter's warnings, `-X importtime`) is passed on, not taken for damage.

npy: the header is parsed and checked (magic, float32, shape, size against the file and the limit)
before the data is read, so an .npz renamed .npy, a pickle, an empty file or a 200-byte header
declaring petabytes are one clear error each.
"""
import os
import re
import struct
import tempfile
import threading

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_size, limit

os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(limit("MAX_IMAGE_PIXELS")))
import cv2  # noqa: E402  (after the limit, which OpenCV reads once)

_CAPTURE_LOCK = threading.Lock()
_capture_file = None
# what Python may print from another thread during a decode: our progress bars and lines, and the
# interpreter's own: a warning (file:line: Category: message, then its source line, indented) and
# `python -X importtime`'s lines; no libjpeg / libpng / OpenCV message starts with a space
_OURS = re.compile(r"^(\r|warning: |error: |.*\|.*(img|it)/s|import time: |\s|\S.*:\d+: \w*Warning: )")
# library lines about images that are fine: colour profiles, metadata, version fields (dropped)
_BENIGN = re.compile(r"^(libpng warning: (iCCP|sRGB|cHRM|gAMA|tEXt|zTXt|iTXt|Interlace)|Warning: unknown JFIF|"
                     r"\[ ?WARN.*(exif|EXIF|Exif))")
JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class DamagedImage(NcnnlikeError):
    """An image file that is corrupt, truncated or not an image (model2table skip_bad=1 skips it)."""


def _at(where):
    return " (%s)" % where if where else ""


def read_bytes(path, what, where=None):
    """The file's bytes, or one error: missing, unreadable, empty."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ValueError):   # ValueError: a NUL byte in the path
        raise NcnnlikeError("%s '%s'%s does not exist" % (what, path, _at(where))) from None
    except OSError as e:
        raise NcnnlikeError("cannot read %s '%s'%s: %s" % (what, path, _at(where), e.strerror or e)) from None
    return data


def _jpeg_size(data):
    """(w, h) from the first SOF marker of a JPEG, or None."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in JPEG_SOF:
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + length
    return None


def image_size(data):
    """(w, h) declared by a PNG, JPEG, BMP or GIF header, or None for other or unreadable headers."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:4] == b"GIF8" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    return None


def _capture():
    global _capture_file
    if _capture_file is None:
        _capture_file = tempfile.TemporaryFile()
    return _capture_file


def _decode_captured(data):
    """cv2.imdecode with fd 2 captured: (image or None, library lines); other text is passed on."""
    buf = np.frombuffer(data, np.uint8)
    with _CAPTURE_LOCK:
        sink = _capture()
        sink.seek(0)
        sink.truncate()
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            try:
                image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
            except cv2.error as exc:
                image, failure = None, str(exc).strip().splitlines()[-1:] or ["OpenCV cannot decode it"]
            else:
                failure = []
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    ours = [line for line in lines if _OURS.match(line)]
    if ours:
        os.write(2, ("\n".join(ours) + "\n").encode("utf-8", "replace"))
    return image, [line for line in lines if not _OURS.match(line) and not _BENIGN.match(line)] + failure


def decode_image(path, where=None):
    """Image file -> uint8 BGR (H, W, 3), or DamagedImage / NcnnlikeError naming file and line."""
    data = read_bytes(path, "image", where)
    if not data:
        raise DamagedImage("image '%s'%s is an empty file" % (path, _at(where)))
    size = image_size(data)
    if size is not None:
        check_size("image '%s'%s" % (path, _at(where)), (size[1], size[0]), "MAX_IMAGE_PIXELS", unit="pixels")
    image, messages = _decode_captured(data)
    if image is None:
        reason = messages[0].strip() if messages else "corrupt, truncated or not an image format OpenCV reads"
        raise DamagedImage("cannot decode image '%s'%s: %s" % (path, _at(where), reason))
    if messages:
        raise DamagedImage("image '%s'%s is damaged (corrupt or truncated): %s"
                           % (path, _at(where), messages[0].strip()))
    return image


def _npy_header(f, path, at):
    """(shape, fortran_order, dtype) of an open .npy file, checked before any data is read."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            return fmt.read_array_header_1_0(f)
        if version in ((2, 0), (3, 0)):
            return fmt.read_array_header_2_0(f)
    except Exception as exc:   # noqa: BLE001  (numpy's header parser raises many kinds on junk)
        raise NcnnlikeError("cannot read npy file '%s'%s: not a .npy array (%s)"
                            % (path, at, str(exc).strip().splitlines()[0][:80] if str(exc).strip() else
                               type(exc).__name__)) from None
    raise NcnnlikeError("npy file '%s'%s has an unknown format version %s" % (path, at, version))


def load_npy(path, expected, where=None, note=""):
    """A little-endian float32 C-order .npy of shape `expected` (numpy order), read only after its
    header says so and the file holds exactly that many bytes."""
    at = _at(where)
    if not os.path.isfile(path):
        raise NcnnlikeError("npy file '%s'%s does not exist" % (path, at))
    try:
        with open(path, "rb") as f:
            shape, fortran, dtype = _npy_header(f, path, at)
            if dtype.hasobject or dtype != np.dtype("<f4"):
                raise NcnnlikeError("npy file '%s'%s holds %s, expected float32" % (path, at, dtype))
            if tuple(shape) != tuple(expected):
                raise NcnnlikeError("npy file '%s'%s has shape %s, expected %s%s"
                                    % (path, at, tuple(shape), tuple(expected), note))
            nbytes = check_size("npy file '%s'%s" % (path, at), shape, "MAX_NPY_BYTES", 4, "bytes")
            left = os.fstat(f.fileno()).st_size - f.tell()
            if left != nbytes:
                raise NcnnlikeError("npy file '%s'%s holds %d data bytes, its header declares %d (%s)"
                                    % (path, at, left, nbytes, "truncated" if left < nbytes else "trailing bytes"))
            data = np.frombuffer(f.read(nbytes), "<f4").reshape(shape, order="F" if fortran else "C")
    except OSError as e:
        raise NcnnlikeError("cannot read npy file '%s'%s: %s" % (path, at, e.strerror or e)) from None
    return np.ascontiguousarray(data, dtype=np.float32)
