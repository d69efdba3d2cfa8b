"""Parity on ncnn's own benchmark networks (../shared/reference/ncnn-benchmark, 35 .param files
without weights): each loads as written, runs with seeded random weights sized from its params in
our runtime and in pip ncnn, optimizes to ncnnoptimize's .param, and goes through the int8 flow
(model2table on npy inputs, model2int8) to files pip ncnn runs like ours and that equal ncnn2int8's.

    python tools/suite_parity.py [name ...]       # prints one row per network

The functions are shared with tests/suite/test_benchmark_networks.py. Detection outputs (rows of
label, score, box) are compared as box sets: rows sorted, same count, values within tolerance; the
default fast int8 path is compared on the detection layer's inputs instead (compared_blobs).
"""
import contextlib
import csv
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools import common  # noqa: E402
from tools.common import SHARED, ncnn_extract, ncnn_net  # noqa: E402

BENCH = os.path.join(SHARED, "reference", "ncnn-benchmark")
TOOLS = os.path.join(SHARED, "ncnn-tools")
DETECTION_TYPES = ("DetectionOutput", "YoloDetectionOutput", "Yolov3DetectionOutput")


def networks():
    """The 35 network names in inputs.tsv order, with their input (c, h, w)."""
    with open(os.path.join(BENCH, "inputs.tsv")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {row["model"]: (int(row["c"]), int(row["h"]), int(row["w"])) for row in rows}


def load(name):
    """The benchmark .param as written (a warning for nanodet_m's extra line is expected)."""
    from ncnnlike.io.param import read_param
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_param(os.path.join(BENCH, name + ".param"))


def make_pair(name, folder, seed=0):
    """(param, bin, graph): the network with seeded random weights, written by our writer."""
    from ncnnlike.io.model import save_model
    from ncnnlike.io.random_weights import fill_random
    graph = fill_random(load(name), seed)
    param, binfile = os.path.join(folder, name + ".param"), os.path.join(folder, name + ".bin")
    save_model(graph, param, binfile)
    return param, binfile, graph


def sample_inputs(graph, shape, count, seed):
    """{input blob: (count, c, h, w)} uniform in [-1, 1] (image-like, mean/norm applied)."""
    rng = np.random.default_rng(seed)
    return {blob: rng.uniform(-1, 1, (count,) + tuple(shape)).astype(np.float32) for blob in graph.input_names()}


def detection_outputs(graph):
    """Output blobs made by a detection-output layer (compared as box sets)."""
    return {t for layer in graph.layers if layer.type in DETECTION_TYPES for t in layer.tops}


def grouped_int8(graph):
    """Whether an int8 ConvolutionDepthWise has 1 < group < channels: pip ncnn's packed int8 kernel
    for it gives garbage (1e31 on regnety_400m; exact with packing off), so the oracle runs unpacked."""
    return any(layer.type == "ConvolutionDepthWise" and layer.params.get(8, 0)
               and 1 < layer.params.get(7, 1) < layer.params.get(0, 0) for layer in graph.layers)


def run_ncnn(param, binfile, inputs, outputs, int8=False, threads=2, packing=True):
    net = ncnn_net(param, binfile, int8=int8, threads=threads, packing=packing)
    n = len(next(iter(inputs.values())))
    return [ncnn_extract(net, {k: v[i] for k, v in inputs.items()}, outputs) for i in range(n)]


def run_ours(param, binfile, inputs, outputs, int8=False, threads=2):
    from ncnnlike.runtime import Net
    net = Net()
    net.opt.num_threads = threads
    net.opt.use_int8_inference = int8
    net.load_param(param)
    net.load_model(binfile)
    result = net.run(inputs, outputs)
    n = len(next(iter(inputs.values())))
    return [{k: np.asarray(result[k][i]) for k in outputs} for i in range(n)]


def box_set(rows):
    """Detection rows (k, 6+) sorted by label, then score (descending), then box."""
    rows = np.asarray(rows, np.float64).reshape(-1, rows.shape[-1] if rows.size else 6)
    order = np.lexsort(tuple(rows[:, c] for c in range(rows.shape[1] - 1, 1, -1)) + (-rows[:, 1], rows[:, 0]))
    return rows[order]


def cosine(a, b):
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    if a.size == 0 and b.size == 0:
        return 1.0
    denom = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / denom) if denom > 0 else float(np.array_equal(a, b))


def compare_outputs(ours, theirs, boxes):
    """Worst output cosine over samples and outputs, or a text saying what disagrees (shape, count)."""
    worst = 1.0
    for i, (mine, ref) in enumerate(zip(ours, theirs)):
        for name, value in ref.items():
            got = mine[name]
            if name in boxes:
                if got.size != value.size:
                    return "sample %d %s: %d detections, ncnn %d" % (i, name, got.size // 6, value.size // 6)
                got, value = box_set(got), box_set(value)
            elif got.shape != value.shape:
                return "sample %d %s: shape %s, ncnn %s" % (i, name, got.shape, value.shape)
            worst = min(worst, cosine(got, value))
    return worst


def compared_blobs(graph, heads=False):
    """The blobs compared: the outputs, with a final Softmax's input beside it. Random weights give
    logits of tens, whose softmax is one-hot: a 1e-6 change in the logits can move the peak, so the
    probabilities alone would say nothing about the arithmetic. With `heads`, a detection output is
    replaced by the detection layer's bottoms (the raw head tensors): the fast int8 path's +-1 flips
    reorder thousands of random-weight boxes of near-equal scores and move some across the score
    threshold, which a box-set comparison reads as a failure however close the heads are."""
    blobs = []
    for blob in graph.output_names():
        producer = graph.producer(blob)
        if producer is not None and producer.type == "Softmax":
            blobs.append(producer.bottoms[0])
        elif heads and producer is not None and producer.type in DETECTION_TYPES:
            blobs.extend(b for b in producer.bottoms if b not in blobs)
        else:
            blobs.append(blob)
    return blobs


def parity(param, binfile, graph, inputs, int8=False):
    """Worst cosine of our outputs against pip ncnn's, fp32 or int8 (int8 = our int8 mode:
    "sim" emulates ncnn's int8 arithmetic, True is the default fast path, compared on the raw
    heads of a detector: see compared_blobs)."""
    from ncnnlike.io.param import read_param
    outputs = compared_blobs(graph, heads=int8 is True)
    packing = not (int8 and grouped_int8(read_param(param)))
    theirs = run_ncnn(param, binfile, inputs, outputs, bool(int8), packing=packing)
    ours = run_ours(param, binfile, inputs, outputs, int8)
    return compare_outputs(ours, theirs, detection_outputs(graph))


def param_lines(path):
    """A .param's layer lines without shape hints and padding, for comparing two writers' output."""
    with open(path) as f:
        lines = f.read().split("\n")[2:]
    return [" ".join(t for t in line.split() if not t.startswith("-23330=")) for line in lines if line.strip()]


def optimize_parity(param, binfile, folder):
    """(equal, differing lines): ncnnoptimize's .param vs model-optimize's (ncnnoptimize's passes only)."""
    from ncnnlike.io.model import load_model, save_model
    from ncnnlike.passes import optimize
    theirs = os.path.join(folder, "ncnnopt.param")
    subprocess.run([os.path.join(TOOLS, "ncnnoptimize"), param, binfile, theirs,
                    os.path.join(folder, "ncnnopt.bin"), "0"], check=True, capture_output=True)
    graph = load_model(param, binfile)
    optimize(graph, ncnn_only=True)
    ours = os.path.join(folder, "ours-opt.param")
    save_model(graph, ours, os.path.join(folder, "ours-opt.bin"))
    a, b = param_lines(theirs), param_lines(ours)
    diff = [(x, y) for x, y in zip(a, b) if x != y] + [(x, None) for x in a[len(b):]] + [(None, y) for y in b[len(a):]]
    return not diff, diff


def write_npy_list(inputs, folder):
    """One .npy per sample of the one input blob (float32, ncnn shape) and the list file naming them
    (model2table type=1): common.write_npy_list."""
    ((blob, batch),) = inputs.items()
    return common.write_npy_list(batch, folder)


def int8_file_difference(ours, theirs, source):
    """How our int8 pair differs from ncnn2int8's: "" when byte-identical, "Gemm B scale" when the
    only differing layers are constant-B Gemms that the source stores transposed (transB=1), where
    ncnn2int8 takes B's absmax over its first row only (tools/quantize/ncnn2int8.cpp, B_data.w is K)
    and clamps the other rows, while we use the whole matrix; else the first differing layer."""
    if all(open(a, "rb").read() == open(b, "rb").read() for a, b in zip(ours, theirs)):
        return ""
    from ncnnlike.io.model import load_model
    mine, ref = load_model(*ours), load_model(*theirs)
    if [(l.type, l.name, dict(l.params)) for l in mine] != [(l.type, l.name, dict(l.params)) for l in ref]:
        return "params"
    for a, b in zip(mine.layers, ref.layers):
        same = list(a.weights) == list(b.weights) and all(
            np.array_equal(np.asarray(a.weights[k]), np.asarray(b.weights[k])) for k in a.weights)
        if same:
            continue
        original = source.layer(a.name)
        if not (a.type == "Gemm" and original.params.get(5, 0) and original.params.get(3, 0)):
            return "layer %s (%s)" % (a.name, a.type)
    return "Gemm B scale"


def int8_flow(param, binfile, graph, calib, folder, method="kl"):
    """model2table (npy inputs) then model2int8 and ncnn2int8 on the same table: (our int8 pair,
    how the two tools' files differ: see int8_file_difference)."""
    from ncnnlike.cli import model2int8, model2table
    shape = ",".join(str(s) for s in reversed(next(iter(calib.values())).shape[1:]))
    table = os.path.join(folder, "model.table")
    args = [param, binfile, write_npy_list(calib, folder), table, "shape=[%s]" % shape, "type=1",
            "method=%s" % method, "thread=2"]
    log = io.StringIO()
    with contextlib.redirect_stderr(log):
        if model2table.main(args) != 0:
            raise RuntimeError("model2table failed: " + log.getvalue().strip().splitlines()[-1])
    ours = os.path.join(folder, "int8.param"), os.path.join(folder, "int8.bin")
    with contextlib.redirect_stderr(log):
        if model2int8.main([param, binfile, *ours, table]) != 0:
            raise RuntimeError("model2int8 failed: " + log.getvalue().strip().splitlines()[-1])
    theirs = os.path.join(folder, "ncnn-int8.param"), os.path.join(folder, "ncnn-int8.bin")
    subprocess.run([os.path.join(TOOLS, "ncnn2int8"), param, binfile, *theirs, table], check=True,
                   capture_output=True)
    return ours, int8_file_difference(ours, theirs, graph)


def is_prequantized(graph):
    return any(layer.params.get(8, 0) for layer in graph.layers
               if layer.type in ("Convolution", "ConvolutionDepthWise", "InnerProduct"))


def check_network(name, shape, folder, count=2):
    """One row of the table: loads, fp32 parity, optimize parity, int8 flow and int8 parity."""
    row = {"network": name}
    param, binfile, graph = make_pair(name, folder)
    row["layers"] = len(graph.layers)
    inputs = sample_inputs(graph, shape, count, seed=1)
    prequantized = is_prequantized(graph)
    row["fp32"] = parity(param, binfile, graph, inputs, int8="sim" if prequantized else False)
    if prequantized:
        row["optimize"] = row["int8 flow"] = row["int8 sim"] = row["int8 fast"] = "n/a (int8 model)"
        return row
    same, diff = optimize_parity(param, binfile, folder)
    row["optimize"] = "equal" if same else "%d lines differ" % len(diff)
    (q_param, q_bin), difference = int8_flow(param, binfile, graph, sample_inputs(graph, shape, count, 2), folder)
    row["int8 flow"] = "= ncnn2int8" + (" but %s" % difference if difference else "")
    row["int8 sim"] = parity(q_param, q_bin, graph, inputs, int8="sim")
    row["int8 fast"] = parity(q_param, q_bin, graph, inputs, int8=True)
    return row


def main(names):
    table = networks()
    for name in names or table:
        with tempfile.TemporaryDirectory() as folder:
            start = time.time()
            try:
                row = check_network(name, table[name], folder)
            except Exception as exc:  # a tool run: report the failure in the row and go on
                row = {"network": name, "error": str(exc).splitlines()[0][:120]}
            row["s"] = "%.1f" % (time.time() - start)
            print("  ".join("%s=%s" % (k, ("%.7f" % v) if isinstance(v, float) else v) for k, v in row.items()),
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
