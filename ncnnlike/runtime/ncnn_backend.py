"""Exact execution: the real ncnn runtime (pip `ncnn`) runs the graph (use_int8_inference = "exact").

ncnn's answers depend on more than its int8 arithmetic: its release build uses -ffast-math (x/b
becomes x*(1/b), one ulp apart, which flips int8 roundings downstream), its packed kernels use the
CPU's reciprocal estimates, and its layers have their own float orderings. Emulating all of that in
onnxruntime ops is exact only where every float op is (DESIGN "int8 execution"); running pip ncnn
itself is exact by construction and about as fast as ncnn can be. The graph is written to a
temporary .param/.bin pair (our writers, as model2int8 writes them) and loaded once per Net; each
sample of a batch then runs through one ncnn Extractor, with our Option's threads, packing and
light mode, and fp16 / bf16 storage and arithmetic off (what the reference outputs were made with).
An output whose shape differs between samples (detections) comes back as a list, as runtime/staged.py.
"""
import os
import tempfile

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.runtime.staged import stack_if_uniform


def _import_ncnn():
    try:
        import ncnn
    except ImportError:
        raise NcnnlikeError("use_int8_inference='exact' runs the real ncnn runtime: pip install ncnn") from None
    return ncnn


def plain_net(ncnn, threads=1):
    """A pip ncnn Net on the CPU with fp16 / bf16 storage and arithmetic off: ncnn's exact paths."""
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = max(1, int(threads))
    return net


def load_pair(net, param, write_bin, prefix="ncnnlike-"):
    """Load .param text and a .bin (bytes, or a function writing it to a file) into `net` through a
    temporary folder (pip ncnn's load_model_mem keeps a reference to a temporary copy of the bytes);
    False when pip ncnn refuses them."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        param_path, bin_path = os.path.join(folder, "model.param"), os.path.join(folder, "model.bin")
        with open(param_path, "w", encoding="utf-8") as f:
            f.write(param)
        with open(bin_path, "wb") as f:
            write_bin(f) if callable(write_bin) else f.write(write_bin)
        return net.load_param(param_path) == 0 and net.load_model(bin_path) == 0


def load(graph, opt):
    """A pip ncnn Net holding `graph` (written to a temporary file pair), set up from our Option."""
    from ncnnlike.io.bin import dump_bin
    from ncnnlike.io.param import param_text
    net = plain_net(_import_ncnn(), opt.num_threads)
    net.opt.use_int8_inference = bool(opt.use_int8_inference)
    net.opt.use_packing_layout = bool(opt.use_packing_layout)
    net.opt.lightmode = bool(opt.lightmode)
    net.opt.openmp_blocktime = max(0, int(opt.openmp_blocktime))
    if not load_pair(net, param_text(graph), lambda f: dump_bin(graph, f), "ncnnlike-exact-"):
        raise NcnnlikeError("pip ncnn cannot load this model (its .param/.bin as our writers make them)")
    return net


def extract(net, feeds, outputs):
    """One sample: feeds {blob: array without batch axis} -> {blob: float32 array (ncnn shape)}."""
    ncnn = _import_ncnn()
    ex = net.create_extractor()
    held = []   # ncnn.Mat(array) wraps the array's memory without keeping it alive
    for name, value in feeds.items():
        array = np.ascontiguousarray(value, dtype=np.float32)
        held.append(array)
        if ex.input(name, ncnn.Mat(array).clone()) != 0:
            raise NcnnlikeError("pip ncnn: '%s' is not an input blob of this model" % name)
    results = {}
    for name in outputs:
        ret, mat = ex.extract(name)
        if ret != 0:
            raise NcnnlikeError("pip ncnn cannot compute blob '%s' (status %d)" % (name, ret))
        # an empty Mat (a detection layer that found nothing): np.array() of it crashes pip ncnn
        results[name] = np.zeros((0,), np.float32) if mat.empty() else np.array(mat, np.float32).copy()
    return results


def run(net, feeds, outputs):
    """Batch API over pip ncnn: feeds {blob: (N, *shape)} -> {blob: (N, *shape) array, or a list of
    N arrays when their shapes differ}."""
    count = len(next(iter(feeds.values()))) if feeds else 1
    samples = [extract(net, {k: v[i] for k, v in feeds.items()}, outputs) for i in range(count)]
    return {name: stack_if_uniform([s[name] for s in samples]) for name in outputs}
