"""Pixel batches: uint8 planes + their normalisation table give back exactly the float inputs."""
import os

import numpy as np

from helpers import REFERENCE
from ncnnlike.quant.images import iter_batches, load_image, parse_preprocess, read_lists
from ncnnlike.quant.pixels import Pixels, expand, pixel_table, planes, substract_mean_normalize

TINY = os.path.join(REFERENCE, "tiny")
OPTS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "RGB"}


def test_pixel_table_is_the_normalisation_of_every_pixel_value():
    table = pixel_table([104, 117, 123], [0.017, 0.017, 0.017], 3)
    values = np.tile(np.arange(256, dtype=np.float32), (3, 1))
    assert table.dtype == np.float32 and table.shape == (3, 256)
    assert np.array_equal(table, substract_mean_normalize(values, [104, 117, 123], [0.017, 0.017, 0.017]))


def test_pixel_batches_expand_to_the_float_batches_bit_for_bit():
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    preprocess = parse_preprocess(OPTS, ["in0"])
    floats = [b["in0"] for b in iter_batches(lists, preprocess, 6)]
    pixels = [b["in0"] for b in iter_batches(lists, preprocess, 6, pixels=True)]
    assert all(isinstance(p, Pixels) and p.indices.dtype == np.uint8 for p in pixels)
    assert [len(p) for p in pixels] == [len(f) for f in floats] == [6, 6, 6, 2]
    assert all(p.nbytes * 4 == f.nbytes for p, f in zip(pixels, floats))
    assert all(np.array_equal(expand(p), f) for p, f in zip(pixels, floats))
    first = load_image(lists[0][0].path, 32, 32, "RGB", [104, 117, 123], [0.017, 0.017, 0.017])
    assert np.array_equal(pixels[0].expand()[0], first)


def test_npy_inputs_stay_float_in_pixel_mode(tmp_path):
    sample = np.random.default_rng(1).standard_normal((2, 4, 3)).astype(np.float32)
    np.save(tmp_path / "a.npy", sample)
    (tmp_path / "list.txt").write_text("%s\n" % (tmp_path / "a.npy"))
    preprocess = parse_preprocess({"shape": "[3,4,2]", "type": "1"}, ["in0"])
    batch = next(iter_batches(read_lists([str(tmp_path / "list.txt")]), preprocess, 1, pixels=True))["in0"]
    assert not isinstance(batch, Pixels) and np.array_equal(expand(batch)[0], sample)


def test_gray_planes_use_ncnns_integer_weights():
    bgr = np.array([[[10, 200, 30], [255, 255, 255]]], np.uint8)      # B, G, R
    assert planes(bgr, "GRAY").tolist() == [[[(30 * 77 + 200 * 150 + 10 * 29) >> 8, 255]]]
