"""Seed files the fuzz cases mutate, made once per session in a temporary folder.

Models: the tiny CNN of ../shared/reference/tiny (pnnx output, optimized, int8) with a shaped Input
variant, the small hand-made models of zoo.py, and a few of ncnn's benchmark networks
(../shared/reference/ncnn-benchmark, chosen for their layer types and size: Concat/Slice/ShuffleChannel,
Permute/PriorBox/DetectionOutput, Crop/Interp/Yolo, Padding, int8) with seeded random weights and
shaped inputs. Samples:
the tiny model's calibration JPEGs, PNG copies, damaged images, npy arrays, list files, tables.
"""
import os
import pathlib
import shutil

import cv2
import numpy as np

from fuzz import zoo
from helpers import REFERENCE
from oracle import make_model
from ncnnlike.io.model import save_model
from ncnnlike.io.param import read_param
from ncnnlike.io.random_weights import fill_random

TINY = os.path.join(REFERENCE, "tiny")
BENCH = os.path.join(REFERENCE, "ncnn-benchmark")
# benchmark model -> input (w, h, c): smaller than the benchmark's own sizes (every network here
# takes any multiple of 32), so that pip ncnn's forward in the oracle takes milliseconds
BENCH_MODELS = {"squeezenet": (96, 96, 3), "shufflenet_v2": (96, 96, 3), "mobilenet_ssd": (160, 160, 3),
                "yolov4-tiny": (160, 160, 3), "blazeface": (128, 128, 3), "mobilenet_int8": (96, 96, 3)}


class Corpus:
    """Paths of the seed files (attributes) and lists of them by kind."""

    def __init__(self, folder):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self._models()
        self._images()
        self._npy()
        self._tables()

    def path(self, name):
        return os.path.join(self.folder, name)

    def _copy(self, src, name):
        dst = self.path(name)
        shutil.copyfile(src, dst)
        return dst

    def _models(self):
        """(param, bin) seed pairs: self.models (float) and self.int8_models."""
        self.tiny = (self._copy(os.path.join(TINY, "tiny-opt.param"), "tiny.param"),
                     self._copy(os.path.join(TINY, "tiny-opt.bin"), "tiny.bin"))
        text = open(self.tiny[0]).read().replace(" 0 1 in0\n", " 0 1 in0 0=32 1=32 2=3\n", 1)
        with open(self.path("tiny-shaped.param"), "w") as f:
            f.write(text)
        self.tiny_shaped = (self.path("tiny-shaped.param"), self.tiny[1])
        self.tiny_int8 = (self._copy(os.path.join(TINY, "tiny-int8.param"), "tiny-int8.param"),
                          self._copy(os.path.join(TINY, "tiny-int8.bin"), "tiny-int8.bin"))
        self.tiny_onnx = self._copy(os.path.join(TINY, "tiny.onnx"), "tiny.onnx")
        self.models = [self.tiny, self.tiny_shaped]
        self.int8_models = [self.tiny_int8]
        for name, text in zoo.MODELS.items():
            param, binfile, _ = make_model(text, pathlib.Path(self.folder), name=name)
            self.models.append((param, binfile))
        for name, (w, h, c) in BENCH_MODELS.items():
            graph = read_param(os.path.join(BENCH, name + ".param"))
            for layer in graph.layers:
                if layer.type == "Input":
                    layer.params.update({0: w, 1: h, 2: c})
            fill_random(graph, 0)
            pair = (self.path(name + ".param"), self.path(name + ".bin"))
            save_model(graph, *pair)
            (self.int8_models if name.endswith("_int8") else self.models).append(pair)

    def _images(self):
        """Good JPEGs and PNGs of the tiny calibration list, damaged images, and list files."""
        with open(os.path.join(TINY, "calib20.txt")) as f:
            sources = [os.path.normpath(os.path.join(TINY, line.strip())) for line in f if line.strip()][:6]
        self.jpegs = [self._copy(src, "img%d.jpg" % i) for i, src in enumerate(sources)]
        self.pngs = []
        for i, src in enumerate(sources[:3]):
            small = cv2.resize(cv2.imread(src), (48, 40))
            path = self.path("img%d.png" % i)
            cv2.imwrite(path, small)
            self.pngs.append(path)
        self.images = self.jpegs + self.pngs
        self.list = self.write_list("list.txt", self.images)

    def _npy(self):
        """float32 npy samples of the tiny model's input (numpy shape (3, 32, 32)) and a list of them."""
        rng = np.random.default_rng(0)
        self.npys = []
        for i in range(3):
            path = self.path("x%d.npy" % i)
            np.save(path, rng.standard_normal((3, 32, 32)).astype(np.float32))
            self.npys.append(path)
        self.npy_list = self.write_list("npy-list.txt", self.npys)

    def _tables(self):
        self.table = self._copy(os.path.join(TINY, "tiny-kl.table"), "tiny.table")

    def write_list(self, name, paths):
        path = self.path(name)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(paths) + "\n")
        return path
