"""Layer parity against the real runtime: a small .param text, seeded random weights sized from the
params, the same file pair run by pip ncnn and by our runtime, outputs compared.

    outs = check_ncnn('''
    Input       in0 0 1 x
    ShuffleChannel sc 1 1 x y 0=2
    ''', {"x": array_chw}, tmp_path)

The text holds layer lines only (the magic and counts are added). Inputs are ncnn shapes without
a batch axis; ours runs them as a batch of `batch` copies, each perturbed, so batch handling is
checked too, and pip ncnn runs each sample on its own.
"""
import numpy as np

from helpers import ncnn_extract, ncnn_net

from ncnnlike.io.model import save_model
from ncnnlike.io.param import read_param
from ncnnlike.io.random_weights import fill_random
from ncnnlike.runtime import Net


def cpu_flags():
    """The x86 feature flags of this CPU (empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# The attention layers' int8 emulation follows pip ncnn's AVX-512 kernels bit for bit (checked on
# this kind of CPU); on an AVX2-only CPU ncnn tiles and rounds differently: a few int8 steps apart.
INT8_BITEXACT = dict(atol=0, rtol=0) if "avx512f" in cpu_flags() else dict(atol=0.05, rtol=0.05)


def param_file(text, path):
    """Write layer lines as a full .param (magic, counts) and return the path."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    blobs = []
    for line in lines:
        tokens = line.split()
        nb, nt = int(tokens[2]), int(tokens[3])
        for blob in tokens[4:4 + nb + nt]:
            if blob not in blobs:
                blobs.append(blob)
    path.write_text("7767517\n%d %d\n%s\n" % (len(lines), len(blobs), "\n".join(lines)))
    return str(path)


def make_model(text, folder, seed=0, weights=None, name="model"):
    """(param path, bin path, graph): the layer lines with seeded random weights, `weights`
    ({layer: {buffer: array}}) replacing any of them, saved by our writer."""
    graph = read_param(param_file(text, folder / (name + ".txt")))
    fill_random(graph, seed)
    for layer_name, buffers in (weights or {}).items():
        layer = graph.layer(layer_name)
        for key, value in buffers.items():
            if key not in layer.weights:
                raise KeyError("layer %s has no buffer %s (has %s)" % (layer_name, key, list(layer.weights)))
            layer.weights[key] = np.asarray(value).reshape(-1)
    param, binfile = str(folder / (name + ".param")), str(folder / (name + ".bin"))
    save_model(graph, param, binfile)
    return param, binfile, graph


def run_ncnn(param, binfile, inputs, outputs, int8=False):
    """pip ncnn on each sample: {blob: (N, *shape)} -> {output: list of N arrays}."""
    net = ncnn_net(param, binfile, int8=int8)
    n = len(next(iter(inputs.values())))
    samples = [ncnn_extract(net, {k: v[i] for k, v in inputs.items()}, outputs) for i in range(n)]
    return {name: [s[name] for s in samples] for name in outputs}


def run_ours(param, binfile, inputs, outputs, int8=False):
    """Our runtime on the whole batch: {output: (N, *shape)}."""
    net = Net()
    net.opt.num_threads = 1
    net.opt.use_int8_inference = int8
    net.load_param(param)
    net.load_model(binfile)
    return net.run(inputs, outputs)


def batch_of(inputs, batch, seed=1):
    """Each input as `batch` samples: the given one, then perturbed copies (so a batch bug shows).
    An int32 input stays int32 (perturbed by integers): pip ncnn gets a Mat of int32 (the bottom
    ncnn's Dequantize / Requantize read), ours the same values as float32."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in inputs.items():
        value = np.asarray(value)
        if value.dtype == np.int32:
            spread = max(int(np.abs(value).max()) // 10, 1)
            copies = [value] + [value + rng.integers(-spread, spread + 1, value.shape, dtype=np.int32)
                                for _ in range(batch - 1)]
        else:
            value = value.astype(np.float32)
            copies = [value] + [value + rng.normal(0, 0.1, value.shape).astype(np.float32) * (np.abs(value).max() + 1e-3)
                                for _ in range(batch - 1)]
        out[name] = np.stack(copies)
    return out


def compare(ours, theirs, name, atol, rtol):
    """Every sample's output equal in shape (ncnn's dims) and within tolerance."""
    for i, ref in enumerate(theirs):
        got = np.asarray(ours[i])
        ref = np.asarray(ref)
        assert got.shape == ref.shape, "%s sample %d: ours %s, ncnn %s" % (name, i, got.shape, ref.shape)
        np.testing.assert_allclose(got, ref, atol=atol, rtol=rtol,
                                   err_msg="%s sample %d" % (name, i))


def check_ncnn(text, inputs, folder, outputs=None, atol=1e-5, rtol=1e-5, seed=0, weights=None, batch=2,
               int8=False):
    """Run the layer lines in pip ncnn and in ours on `inputs` ({blob: array without batch}) and
    assert the outputs agree; returns {output: (ours (N, *shape), ncnn list of N arrays)}."""
    param, binfile, graph = make_model(text, folder, seed, weights)
    outputs = outputs or graph.output_names()
    feeds = batch_of(inputs, batch)
    theirs = run_ncnn(param, binfile, feeds, outputs, int8)
    ours = run_ours(param, binfile, feeds, outputs, int8)
    for name in outputs:
        compare(ours[name], theirs[name], name, atol, rtol)
    return {name: (ours[name], theirs[name]) for name in outputs}
