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


def ncnn_net(param, binary, int8=False, threads=1):
    """The real runtime (pip ncnn) on a model file pair, fp32 storage and arithmetic (pip ncnn
    defaults to fp16 storage on x86, which moves outputs by ~1e-3), no Vulkan."""
    import ncnn
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.use_int8_inference = int8
    net.opt.num_threads = threads
    assert net.load_param(str(param)) == 0 and net.load_model(str(binary)) == 0, "pip ncnn cannot load %s" % param
    return net


def ncnn_extract(net, feeds, outputs):
    """One sample through pip ncnn: feeds {blob: array without batch axis} -> {output: array}.

    The input Mats are clones: ncnn.Mat(ndarray) wraps the numpy memory without copying, and an
    in-place layer (ReLU...) writing into it crashes pip ncnn."""
    import ncnn
    ex = net.create_extractor()
    for name, value in feeds.items():
        ex.input(name, ncnn.Mat(np.ascontiguousarray(value, dtype=np.float32)).clone())
    results = {}
    for name in outputs:
        ret, mat = ex.extract(name)
        assert ret == 0, "pip ncnn cannot extract %s" % name
        results[name] = np.array(mat).copy()
    return results
