"""Damaged samples (quant/decode.py, issue 15): a truncated or corrupt image is an error naming the
file and the list line (skip_bad=1 skips it with a warning and a count), no libjpeg / libpng line
reaches stderr, sizes are checked against named limits before decoding, and .npy headers are
checked before any data is read."""
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.cli import model2table
from ncnnlike.errors import NcnnlikeError, NcnnlikeLimitError, NcnnlikeWarning
from ncnnlike.quant.decode import DamagedImage, decode_image, load_npy
from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists

TINY = os.path.join(REFERENCE, "tiny")
TINY_PAIR = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin")]
OPTS = ["shape=[32,32,3]", "mean=[104,117,123]", "norm=[0.017,0.017,0.017]", "thread=2"]


def jpeg_bytes():
    with open(os.path.join(TINY, "calib20.txt")) as f:
        first = os.path.normpath(os.path.join(TINY, f.readline().strip()))
    with open(first, "rb") as f:
        return f.read()


def png_header(w, h, rows):
    """A PNG declaring w x h with `rows` rows of data: a few KB that would decode to gigabytes."""
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff)
    raw = zlib.compress(b"".join(b"\0" + bytes(w * 3) for _ in range(rows)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def write_list(tmp_path, images):
    paths = []
    for i, data in enumerate(images):
        path = tmp_path / ("s%d.jpg" % i)
        path.write_bytes(data)
        paths.append(str(path))
    listfile = tmp_path / "list.txt"
    listfile.write_text("\n".join(paths) + "\n")
    return str(listfile), paths


def test_a_truncated_jpeg_is_an_error_naming_file_and_line_and_no_libjpeg_line(tmp_path, capfd):
    good = jpeg_bytes()
    listfile, paths = write_list(tmp_path, [good, good[:600]])
    out = str(tmp_path / "o.table")
    assert model2table.main([*TINY_PAIR, listfile, out, *OPTS]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and not os.path.exists(out)
    assert "s1.jpg' (%s line 2)" % listfile in err and "cannot decode" in err


def test_a_corrupt_jpeg_that_still_decodes_is_damaged(tmp_path, capfd):
    """libjpeg decodes flipped entropy bytes with a warning on fd 2; that warning makes it an error."""
    data = bytearray(jpeg_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 1000, 50):
        data[i] ^= 0x21
    path = tmp_path / "c.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(DamagedImage, match=r"c\.jpg' \(l line 4\).*(damaged|cannot decode)"):
        decode_image(str(path), "l line 4")
    assert capfd.readouterr().err == ""


def test_skip_bad_skips_damaged_images_with_a_warning_and_a_count(tmp_path):
    good = jpeg_bytes()
    listfile, paths = write_list(tmp_path, [good, good[:600], b"", good])
    preps = parse_preprocess({"shape": "[32,32,3]", "skip_bad": "1"}, ["in0"])
    with pytest.warns(NcnnlikeWarning) as caught:
        batches = list(iter_batches(read_lists([listfile]), preps, batch_size=2, threads=2))
    assert sum(len(b["in0"]) for b in batches) == 2
    messages = [str(w.message) for w in caught]
    assert any("s1.jpg' (%s line 2)" % listfile in m for m in messages)
    assert any("s2.jpg' (%s line 3) is an empty file" % listfile in m for m in messages)
    assert messages[-1] == "skip_bad=1: skipped 2 damaged samples of 4"


def test_skip_bad_in_model2table_writes_the_table_from_the_good_images(tmp_path, capfd):
    good = jpeg_bytes()
    listfile, _ = write_list(tmp_path, [good, good[:600], good])
    out = str(tmp_path / "o.table")
    assert model2table.main([*TINY_PAIR, listfile, out, *OPTS, "skip_bad=1"]) == 0
    err = capfd.readouterr().err
    assert "warning: skip_bad=1: skipped 1 damaged sample of 3" in err and os.path.exists(out)


def test_a_huge_declared_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_header(60000, 60000, rows=2))
    with pytest.raises(NcnnlikeLimitError, match=r"60000x60000 is 3600000000 pixels, more than the limit "
                                                 r"NCNNLIKE_MAX_IMAGE_PIXELS"):
        decode_image(str(path))


def test_a_tall_image_with_a_free_width_is_refused_by_the_input_limit(tmp_path, capsys):
    """1000000 x 1 pixels with shape=[0,32]: the kept aspect ratio asks for 32000000 x 32 x 3 floats."""
    path = tmp_path / "tall.png"
    cv2.imwrite(str(path), np.zeros((1, 1000000, 3), np.uint8))
    listfile = tmp_path / "l.txt"
    listfile.write_text(str(path) + "\n")
    assert model2table.main([*TINY_PAIR, str(listfile), str(tmp_path / "o.table"), "shape=[0,32]"]) == 2
    assert "NCNNLIKE_MAX_INPUT_ELEMENTS" in capsys.readouterr().err


@pytest.mark.parametrize("shape", ["[2147483648,1,3]", "[99999999999999999999,0,3]"])
def test_a_huge_shape_option_is_refused(tmp_path, capsys, shape):
    assert model2table.main([*TINY_PAIR, os.path.join(TINY, "calib20.txt"), str(tmp_path / "o.table"),
                             "shape=" + shape]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def npy_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def npy_header(shape, descr="<f4"):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


@pytest.mark.parametrize("name,data,message", [
    ("empty.npy", b"", "not a .npy array"),
    ("zip.npy", b"PK\x03\x04" + bytes(60), "not a .npy array"),
    ("junk.npy", b"PK" + bytes(3), "not a .npy array"),
    ("petabytes.npy", npy_header((3, 2**40, 2**20)), r"has shape \(3, 1099511627776, 1048576\), expected \(3, 4, 4\)"),
    ("pickle.npy", npy_header((1,), "|O") + b"\x80\x04N.", "holds object, expected float32"),
    ("short.npy", npy_header((3, 4, 4)) + bytes(10), "holds 10 data bytes, its header declares 192 .truncated"),
])
def test_damaged_npy_files_are_one_error_each(tmp_path, name, data, message):
    path = npy_file(tmp_path, name, data)
    with pytest.raises(NcnnlikeError, match=message):
        load_npy(path, (3, 4, 4), "l line 1")


def test_an_npy_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("NCNNLIKE_MAX_NPY_BYTES", "100")
    path = npy_file(tmp_path, "x.npy", npy_header((3, 4, 4)) + bytes(192))
    with pytest.raises(NcnnlikeLimitError, match="192 bytes, more than the limit NCNNLIKE_MAX_NPY_BYTES=100"):
        load_npy(path, (3, 4, 4))


def test_a_png_with_a_bad_colour_profile_is_fine_and_quiet(tmp_path, capfd):
    """libpng warns about colour profiles of images that decode fine: no error, no line."""
    ok, data = cv2.imencode(".png", np.full((8, 8, 3), 7, np.uint8))
    data = data.tobytes()
    chunk = b"iCCP" + b"bad\x00\x00" + zlib.compress(b"x" * 200)
    icc = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) & 0xffffffff)
    path = tmp_path / "icc.png"
    path.write_bytes(data[:33] + icc + data[33:])
    assert decode_image(str(path)).shape == (8, 8, 3)
    assert capfd.readouterr().err == ""


FOREIGN = [  # what the interpreter itself may write from another thread while an image decodes
    "import time:       412 |        980 | tqdm.utils\n",
    "/x/numpy/core/fromnumeric.py:88: RuntimeWarning: overflow encountered in reduce\n"
    "  return ufunc.reduce(obj, axis, dtype, out, **passkwargs)\n",
]


@pytest.mark.parametrize("text", FOREIGN)
def test_text_another_thread_writes_during_a_decode_is_passed_on_not_taken_for_damage(tmp_path, capfd, monkeypatch,
                                                                                  text):
    """The capture of fd 2 sees all of the process's writes: a line the interpreter writes meanwhile
    (a warning, `python -X importtime`) is no library's report on the image."""
    from ncnnlike.quant import decode
    ok, data = cv2.imencode(".png", np.full((8, 8, 3), 7, np.uint8))
    path = tmp_path / "fine.png"
    path.write_bytes(data.tobytes())
    real = cv2.imdecode

    def decode_while_another_thread_writes(buf, flags):
        os.write(2, text.encode())
        return real(buf, flags)
    monkeypatch.setattr(decode.cv2, "imdecode", decode_while_another_thread_writes)
    assert decode_image(str(path)).shape == (8, 8, 3)
    assert capfd.readouterr().err == text


def test_a_library_line_during_a_decode_still_marks_the_image_damaged(tmp_path, monkeypatch):
    from ncnnlike.quant import decode
    ok, data = cv2.imencode(".png", np.full((8, 8, 3), 7, np.uint8))
    path = tmp_path / "fine.png"
    path.write_bytes(data.tobytes())
    real = cv2.imdecode

    def decode_with_a_libjpeg_warning(buf, flags):
        os.write(2, b"Corrupt JPEG data: 2 extraneous bytes before marker 0xd9\n")
        return real(buf, flags)
    monkeypatch.setattr(decode.cv2, "imdecode", decode_with_a_libjpeg_warning)
    with pytest.raises(DamagedImage, match="extraneous bytes"):
        decode_image(str(path))
