"""Shared test helpers: paths to ../shared and running small hand-built graphs in our runtime."""
import os

import numpy as np

from ncnnlike.graph import Graph, Layer
from ncnnlike.paramdict import ParamDict
from ncnnlike.runtime import Net

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
REFERENCE = os.path.join(SHARED, "reference")
MODELS = os.path.join(SHARED, "models")
DATA = os.path.join(SHARED, "data")


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
