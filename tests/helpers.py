"""Shared test helpers: paths to ../shared and running small hand-built graphs in our runtime."""
import os
import sys

import numpy as np

from ncnnlike.graph import Graph, Layer
from ncnnlike.paramdict import ParamDict
from ncnnlike.runtime import Net

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)   # tools/common.py holds the pip ncnn oracle helpers the tests share

from tools import common  # noqa: E402
from tools.common import ncnn_extract  # noqa: E402,F401  (re-exported for the tests)

SHARED = os.path.join(os.path.dirname(REPO), "shared")
REFERENCE = os.path.join(SHARED, "reference")
MODELS = os.path.join(SHARED, "models")
DATA = os.path.join(SHARED, "data")


BIN_EDGE_ABSMAX = [6.1234567, 0.37, 1e-30, 3e38, 2.0 ** -120]


def bin_edge_values(absmax, seed):
    """float32 values in [-absmax, absmax] on and beside each of ncnn2table's 2048 bin edges, random
    ones, zeros of both signs and subnormals: where binning by another formula would differ."""
    rng = np.random.default_rng(seed)
    edges = (np.arange(2049, dtype=np.float32) / np.float32(2048) * absmax).astype(np.float32)
    v = np.concatenate([edges, np.nextafter(edges, np.float32(0)), np.nextafter(edges, np.float32(np.inf)), -edges,
                        rng.uniform(-absmax, absmax, 50000).astype(np.float32), [0.0, -0.0, 1e-45, -1e-40]])
    return np.clip(v.astype(np.float32), -absmax, absmax)


def ncnn_bins(v, absmax):
    """(counts of the non-zero values' bins by ncnn2table's formula in float32 ops, exact zeros)."""
    nonzero = v[v != 0]
    ncnn = np.minimum((np.abs(nonzero) / absmax * np.float32(2048)).astype(np.int64), 2047)
    return np.bincount(ncnn, minlength=2048), v.size - nonzero.size


def random_benchmark(name, folder):
    """(graph, input (c, h, w)) of an ncnn benchmark network with seeded random weights, its files
    written in `folder` (tools/suite_parity.make_pair)."""
    from tools.suite_parity import make_pair, networks
    return make_pair(name, str(folder))[2], tuple(dict(networks())[name])


def layer(type_, name, bottoms, tops, params=None, weights=None):
    """A Layer from plain values: params {id: value}, weights {name: array}."""
    return Layer(type_, name, list(bottoms), list(tops), ParamDict(params or {}),
                 {k: np.asarray(v) for k, v in (weights or {}).items()})


def run_layers(layers, inputs, outputs=None, int8=True, threads=1):
    """Run layers after one Input layer per key of `inputs` (blob -> array (N, *shape))."""
    graph = Graph([layer("Input", "in_" + name, [], [name]) for name in inputs] + list(layers))
    net = Net.from_graph(graph)
    net.opt.num_threads = threads
    net.opt.use_int8_inference = int8
    outputs = outputs or graph.output_names()
    return net.run(inputs, outputs)


def ncnn_net(param, binary, int8=False, threads=1):
    """pip ncnn with the reference settings of tools/common.ncnn_net, one thread by default (its
    OpenMP threads crawl when other jobs share the cores)."""
    return common.ncnn_net(param, binary, int8, threads)


def can_build_extensions():
    """True where setup.py's optional C extensions must have been built: the C compiler Python was
    built with is on PATH and Python's headers are installed (an install without them falls back
    to the pure Python/numpy paths, with the same results)."""
    import shutil
    import sysconfig
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and os.path.exists(headers)
