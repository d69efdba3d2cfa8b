"""Hypothesis strategies that damage seed files the way an attacker (or a bad disk) would.

Each strategy draws a list of edits and applies them to seed bytes: text formats (.param, .table,
list files) by line and token, binary formats (.bin, images, .npy, .onnx) by bytes or by field.
The values are the ones that broke tools before: 0, -1, 2^31, 46341 (46341^2 > 2^31), -233,
nan, inf, 4e-7 (%f writes 0), Unicode digits, CR, ESC sequences, bytes that are not UTF-8.
"""
import struct
import zlib

import numpy as np
from hypothesis import strategies as st

INTS = [0, 1, -1, 2, 3, 4, 7, 16, 255, 256, 1000, 46341, 65535, 65536, 100000, 2**31 - 1, -2**31, 2**31,
        2**32, -233, -234, -23300, -23330, 99999999999999999999]
FLOATS = ["0.0", "-0.0", "1.0", "-1.0", "1e38", "3.5e38", "1e-45", "nan", "inf", "-inf", "1e-7", "0.0000004",
          "0.5", "1e30", "-3.4e38", "١٥.6", "1.5e"]
JUNK = ["\r", "\x1b[2J", "\x1b]0;x\x07", "\t", "\x00", "١٥", "é", "\udcff\udcfe", '"', ",", "=", "#", "\u202e",
        "\x0b", " ", "\n", "-23330=5,1,2,3,4,5"]
TYPES = ["Input", "Convolution", "ConvolutionDepthWise", "Pooling", "InnerProduct", "ReLU", "Split", "Concat",
         "Slice", "Eltwise", "BinaryOp", "Reshape", "Permute", "Flatten", "Softmax", "Interp", "Padding", "Crop",
         "MemoryData", "Gemm", "MatMul", "LSTM", "GRU", "LayerNorm", "BatchNorm", "Scale", "Deconvolution",
         "ShuffleChannel", "PriorBox", "DetectionOutput", "Yolov3DetectionOutput", "MultiHeadAttention",
         "HardSwish", "Sigmoid", "Dropout", "Noop", "Bogus", "Embed", "Tile", "Reduction", "Clip", "UnaryOp",
         "Convolution1D", "Pooling1D", "Convolution3D", "Unfold", "Fold", "GridSample", "Einsum", "ExpandDims",
         "Squeeze", "Packing", "Cast", "PixelShuffle", "Reorg", "Normalize", "InstanceNorm", "GroupNorm",
         "DeconvolutionDepthWise", "Requantize", "Quantize", "Dequantize", "SDPA", "RMSNorm", "CumulativeSum"]


def value_token():
    """A param value: an interesting int or float, an array, a string, junk."""
    ints = st.sampled_from(INTS).map(str)
    return st.one_of(ints, st.integers(-300, 300).map(str), st.sampled_from(FLOATS),
                     st.lists(st.sampled_from(INTS[:12]), min_size=0, max_size=6).map(
                         lambda v: ",".join(map(str, v))),
                     st.sampled_from(JUNK), st.text(max_size=8))


def _edit_param_line(draw, tokens):
    """One edit of a layer line's tokens (type name bottoms tops id=value...)."""
    kind = draw(st.sampled_from(["set", "set", "set", "drop", "dup", "count", "blob", "type", "name", "array"]))
    if kind == "set":
        key = draw(st.one_of(st.integers(0, 31), st.sampled_from([-23300, -23310, -23330, 32, -1])))
        tokens.append("%d=%s" % (key, draw(value_token())))
    elif kind == "drop" and len(tokens) > 1:
        del tokens[draw(st.integers(0, len(tokens) - 1))]
    elif kind == "dup" and tokens:
        tokens.append(tokens[draw(st.integers(0, len(tokens) - 1))])
    elif kind == "count" and len(tokens) > 3:
        i = draw(st.sampled_from([2, 3]))
        tokens[i] = str(draw(st.sampled_from([0, 1, 2, 3, -1, 9])))
    elif kind == "blob" and len(tokens) > 4:
        i = draw(st.integers(4, len(tokens) - 1))
        tokens[i] = draw(st.sampled_from(["in0", "x", "undefined_blob", tokens[4], "1", "out0"]))
    elif kind == "type" and tokens:
        tokens[0] = draw(st.sampled_from(TYPES))
    elif kind == "name" and len(tokens) > 1:
        tokens[1] = draw(st.sampled_from(JUNK + ["dup", "a" * 300]))
    elif kind == "array":
        key = draw(st.integers(0, 31))
        values = draw(st.lists(st.sampled_from(INTS[:14] + [0.5, -1.5]), min_size=0, max_size=8))
        count = len(values) + draw(st.sampled_from([0, 0, 0, 1, -1]))
        tokens.append("%d=%d,%s" % (-23300 - key, count, ",".join(map(str, values))))
    return tokens


def _edit_value(draw, tokens):
    """One existing `id=value` token of a layer line gets another value of the same kind: the
    file stays well-formed, the layer's params go out of what ncnn accepts (the deep cases)."""
    params = [i for i, t in enumerate(tokens) if "=" in t and i >= 4]
    if not params:
        return tokens
    i = draw(st.sampled_from(params))
    key, _, value = tokens[i].partition("=")
    if "," in value:
        parts = value.split(",")
        j = draw(st.integers(0, len(parts) - 1))
        parts[j] = str(draw(st.sampled_from(INTS[:14]))) if "." not in parts[j] and "e" not in parts[j] \
            else draw(st.sampled_from(FLOATS[:7]))
        value = ",".join(parts)
    elif "." in value or "e" in value:
        value = draw(st.sampled_from(FLOATS[:9] + ["1e-30", "-2.5"]))
    else:
        value = str(draw(st.one_of(st.sampled_from(INTS[:20]), st.integers(-3, 70))))
    tokens[i] = key + "=" + value
    return tokens


@st.composite
def param_text(draw, text):
    """A .param text with 1-4 edits: a param value (most often), layer lines, the header, line
    order, raw junk, truncation."""
    lines = text.split("\n")
    if draw(st.integers(0, 2)) > 0:
        for _ in range(draw(st.integers(1, 2))):
            i = draw(st.integers(2, len(lines) - 1))
            lines[i] = " ".join(_edit_value(draw, lines[i].split()))
        return "\n".join(lines)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["layer"] * 6 + ["header", "swap", "junk", "truncate", "delete"]))
        if kind == "layer" and len(lines) > 2:
            i = draw(st.integers(2, len(lines) - 1))
            lines[i] = " ".join(_edit_param_line(draw, lines[i].split()))
        elif kind == "header" and len(lines) > 1:
            i = draw(st.sampled_from([0, 1]))
            lines[i] = draw(st.sampled_from(["7767517", "7767518", "0 0", "1 1", "3 999", "99999999 1", "",
                                             lines[i] + " 5", "-1 -1"]))
        elif kind == "swap" and len(lines) > 3:
            i, j = draw(st.integers(2, len(lines) - 1)), draw(st.integers(2, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "junk":
            i = draw(st.integers(0, len(lines) - 1))
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(JUNK)) + lines[i][at:]
        elif kind == "truncate":
            cut = draw(st.integers(0, len("\n".join(lines))))
            lines = "\n".join(lines)[:cut].split("\n")
        elif kind == "delete" and len(lines) > 3:
            del lines[draw(st.integers(2, len(lines) - 1))]
    return "\n".join(lines)


@st.composite
def damaged_bytes(draw, data):
    """Bytes with 1-3 edits: truncation, flipped bytes, inserted or appended junk, zeroed runs."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "flip", "insert", "append", "zero"]))
        n = len(data)
        if kind == "truncate":
            del data[draw(st.integers(0, n)):]
        elif kind == "flip" and n:
            for _ in range(draw(st.integers(1, 8))):
                i = draw(st.integers(0, n - 1))
                data[i] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            i = draw(st.integers(0, n))
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "append":
            data += draw(st.binary(min_size=1, max_size=64))
        elif kind == "zero" and n:
            i = draw(st.integers(0, n - 1))
            data[i:i + draw(st.integers(1, 64))] = b"\0" * len(data[i:i + 64])
    return bytes(data)


@st.composite
def table_text(draw, text):
    """A calibration table with 1-3 edits of values, keys, comments and line structure."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        tokens = lines[i].split(" ")
        kind = draw(st.sampled_from(["value", "value", "value", "key", "drop", "comment", "dup", "junk", "blank"]))
        if kind == "value" and len(tokens) > 1:
            bad = FLOATS + ["0", "-1", "1e-6", "5e-7", "0x10", "1e40", ""]
            tokens[draw(st.integers(1, len(tokens) - 1))] = draw(st.sampled_from(bad))
        elif kind == "key" and tokens:
            tokens[0] = draw(st.sampled_from(JUNK + ["unknown_layer", "x_param_0", tokens[0] + "_param_0"]))
        elif kind == "drop" and len(tokens) > 1:
            del tokens[draw(st.integers(1, len(tokens) - 1))]
        elif kind == "comment":
            tokens[0] = "#" + tokens[0]
        elif kind == "dup":
            lines.insert(i, lines[i])
        elif kind == "junk":
            tokens.append(draw(st.sampled_from(JUNK)))
        elif kind == "blank":
            lines.insert(i, "")
        if kind not in ("dup", "blank"):
            lines[i] = " ".join(tokens)
    return "\n".join(lines)


# ---------------------------------------------------------------- images and npy files

def png_bytes(w, h, channels=3, rows=None):
    """A valid PNG header declaring w x h (rows: how many rows of data to include; None = all)."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    color = {1: 0, 3: 2, 4: 6}[channels]
    ihdr = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    n = h if rows is None else min(rows, h)
    raw = zlib.compress(b"".join(b"\0" + bytes(w * channels) for _ in range(n)))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def npy_bytes(shape, dtype="<f4", fortran=False, header_extra="", data=None):
    """An .npy file (format 1.0) with the given header fields and data bytes (default: zeros)."""
    header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, %s}" % (dtype, fortran, tuple(shape), header_extra)
    header += " " * (-(len(header) + 11) % 64) + "\n"
    if data is None:
        count = int(np.prod(shape)) if all(isinstance(s, int) and 0 <= s < 1 << 20 for s in shape) else 0
        data = bytes(count * 4)
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + data


GOOD_NPY_SHAPE = (3, 32, 32)


@st.composite
def npy_file(draw):
    """Bytes of an .npy sample for the tiny model: good, or damaged in header, dtype, size or kind."""
    kind = draw(st.sampled_from(["good", "dtype", "shape", "huge", "fortran", "truncated", "trailing", "npz",
                                 "pickle", "empty", "pk", "header", "bytes"]))
    good = npy_bytes(GOOD_NPY_SHAPE)
    if kind == "good":
        return good
    if kind == "dtype":
        return npy_bytes(GOOD_NPY_SHAPE, draw(st.sampled_from(["<f8", ">f4", "<i4", "|O", "<f2", "|u1"])))
    if kind == "shape":
        return npy_bytes(draw(st.sampled_from([(32, 32, 3), (3, 32), (1, 3, 32, 32), (), (0, 32, 32)])))
    if kind == "huge":
        return npy_bytes(draw(st.sampled_from([(3, 2**40, 2**20), (2**62,), (3, 32, 2**31)])), data=b"")
    if kind == "fortran":
        return npy_bytes(GOOD_NPY_SHAPE, fortran=True)
    if kind == "truncated":
        return good[:draw(st.integers(0, len(good) - 1))]
    if kind == "trailing":
        return good + b"\0" * draw(st.integers(1, 100))
    if kind == "npz":
        return b"PK\x03\x04" + bytes(100)
    if kind == "pickle":
        return npy_bytes((1,), "|O", data=b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00]\x94.")
    if kind == "empty":
        return b""
    if kind == "pk":
        return b"PK" + draw(st.binary(max_size=40))
    if kind == "header":
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", 40) + draw(st.binary(min_size=40, max_size=40))
    return draw(damaged_bytes(good))


@st.composite
def image_file(draw, jpeg, png):
    """(bytes, suffix) of a sample image: good, damaged, huge-declared, empty, not an image."""
    kind = draw(st.sampled_from(["jpeg", "png", "damaged_jpeg", "damaged_jpeg", "damaged_png", "truncated_jpeg",
                                 "huge_png", "tall_png", "empty", "text", "tiny_png", "gray_png"]))
    if kind == "jpeg":
        return jpeg, ".jpg"
    if kind == "png":
        return png, ".png"
    if kind == "damaged_jpeg":
        return draw(damaged_bytes(jpeg)), ".jpg"
    if kind == "damaged_png":
        return draw(damaged_bytes(png)), ".png"
    if kind == "truncated_jpeg":
        return jpeg[:draw(st.integers(0, len(jpeg) - 1))], ".jpg"
    if kind == "huge_png":
        return png_bytes(60000, 60000, rows=2), ".png"
    if kind == "tall_png":
        return png_bytes(1, 1000000, rows=1000000), ".png"
    if kind == "empty":
        return b"", ".jpg"
    if kind == "text":
        return b"not an image\n", ".jpg"
    if kind == "tiny_png":
        return png_bytes(1, 1), ".png"
    return png_bytes(8, 8, channels=1), ".png"
