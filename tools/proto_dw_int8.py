"""Prototype measurements: can a better int8 depthwise convolution bring Lite0's fast int8 to 0.45x
our fp32 time (1 thread, VNNI CPU)? A measurement tool, not package code; never fails a build.

    python tools/proto_dw_int8.py [--rounds 40] [--check 0] [--no-layers] [--no-net]

1. Per depthwise layer of Lite0 (real weights, shapes, scales), one-layer graphs in onnxruntime,
   kernel time from its profiler (median over interleaved rounds): fp32 Conv (+ReLU6, NCHWc),
   QLinearConv + Clip as the fast path lowers it (uint8 x int8 weights, NHWC after onnxruntime's
   layout transformer: its symmetric VNNI depthwise kernel), uint8 weights (u8u8), int8 activations
   (s8s8), the NCHW kernel (ORT_ENABLE_EXTENDED: no NHWC transformer), grouped ConvInteger; and the
   numba kernel of tools/proto_dw_numba.py (CPU time per call, padded copy included).
2. Whole Lite0, CPU time per inference, interleaved rounds: our fp32 and fast int8 (Net.run, and
   raw sessions), our fp32 without its depthwise convs, the fast graph at ORT_ENABLE_EXTENDED,
   with u8u8 depthwise weights, with each depthwise conv in fp32 between the int8 pointwise convs
   (Cast, Sub, Conv, Clip, QuantizeLinear), without its depthwise convs (Identity, or a 1x1 MaxPool
   of stride 2: what the rest costs), and cut into onnxruntime segments around the depthwise convs
   (IOBinding on preallocated buffers) with the depthwise convs run by onnxruntime one by one, by
   the numba kernel, or not at all.
3. The extrapolation: the depthwise time the 0.45x target leaves, with a kernel inside the
   onnxruntime graph and with segments around it, and the multiply-add rate that takes.
--check N: top-1 agreement and cosine to pip ncnn on N eval images, fast vs segmented numba; the
numba kernel against our sim mode (ncnn's arithmetic) layer by layer on 4 of them.
"""
import argparse
import collections
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common, profile_int8  # noqa: E402
from tools.proto_dw_graphs import (NCHW, dw_layers, fast_model, layer_models, net_variants,  # noqa: E402
                                   ort_session, Segmented, without_depthwise)

TARGET = 0.45


def anonymous_executable():
    """Executable mappings of this process not backed by a file (JIT code)."""
    with open("/proc/self/maps") as f:
        rows = [line.split(None, 5) for line in f]
    return {r[0] for r in rows if "x" in r[1] and (len(r) < 6 or not os.path.isfile(r[5].strip()))}


def mhz():
    """The clock /proc/cpuinfo reports (MHz; 1000 when unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(float(line.split(":")[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration):
        return 1000.0


def dw_macs(layers):
    """Multiply-adds of the depthwise layers (output values times taps)."""
    return sum(int(np.prod(d["top"])) * d["p"].kernel_h * d["p"].kernel_w for d in layers)


def cpu_median(fn, calls):
    runs = []
    for _ in range(calls):
        t0 = time.process_time()
        fn()
        runs.append(time.process_time() - t0)
    return float(np.median(runs))


def layer_table(layers, rounds, tmp):
    """Section 1: {layer: {variant: microseconds}}; ORT variants from the profiler, numba by CPU time."""
    from tools import proto_dw_numba
    rng = np.random.default_rng(0)
    table = {}
    before = anonymous_executable()
    for d in layers:
        c, h, w = d["shape"]
        x8 = {"u8": rng.integers(64, 192, (1, h, w, c)).astype(np.uint8)}
        x8["s8"] = (x8["u8"].astype(np.int16) - 128).astype(np.int8)
        x8["u8 NCHW"] = np.ascontiguousarray(x8["u8"].transpose(NCHW))
        x32 = rng.standard_normal((1, c, h, w)).astype(np.float32)
        sessions = {}
        for i, (name, (model, kind, level)) in enumerate(layer_models(d).items()):
            feed = {"x": x32 if kind == "f32" else x8[kind]}
            sessions[name] = (ort_session(model, level, profile=os.path.join(tmp, "l%d" % i)), feed)
        for _ in range(rounds):
            for sess, feed in sessions.values():
                sess.run(None, feed)
        row = {}
        for name, (sess, _) in sessions.items():
            nodes = profile_int8.node_times(sess.end_profiling())
            row[name] = sum(float(np.median(t[2:])) for op, _, t in nodes.values()
                            if op not in ("ReorderInput", "ReorderOutput", "Transpose"))
        kernel = proto_dw_numba.DW(d["L"], d["shape"], d["top"], d["pads"], (d["p"].stride_h, d["p"].stride_w))
        out = np.empty((1,) + (d["top"][1], d["top"][2], c), np.uint8)
        kernel(x8["u8"], out)
        label = "numba (%s)" % ("flat" if kernel.flat else "pixel")
        row[label] = 1e6 * cpu_median(lambda: kernel(x8["u8"], out), rounds)
        table[d["name"]] = row
    return table, len(anonymous_executable() - before)


def print_layers(layers, table):
    names = [n for n in next(iter(table.values())) if not n.startswith("numba")] + ["numba"]
    print("| layer | C, H, W | k, s | " + " | ".join("%s us" % n for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    sums = collections.Counter()
    for d in layers:
        row = {("numba" if k.startswith("numba") else k): v for k, v in table[d["name"]].items()}
        sums.update(row)
        print("| %s | %s | %d, %d | " % (d["name"], ",".join(map(str, d["shape"])), d["p"].kernel_w, d["p"].stride_w)
              + " | ".join("%.1f" % row[n] for n in names) + " |")
    base = sums[names[0]]
    print("| sum | | | " + " | ".join("%.0f (%.2fx)" % (sums[n], sums[n] / base) for n in names) + " |")
    return sums


def net_table(pair, rounds, image, with_numba):
    """Section 2: {variant: median CPU ms per inference} and the optimized graphs' node counts."""
    from onnxruntime import GraphOptimizationLevel as Level
    fp32 = common.our_net(common.FP32_PARAM, common.FP32_BIN, False, 1)
    fast = common.our_net(*pair, True, 1)
    for net in (fp32, fast):
        net.opt.openmp_blocktime = 0
    feed = {common.INPUT: image[None]}
    runners = {"our fp32 (Net.run)": lambda: fp32.run(feed, [common.OUTPUT]),
               "fast int8 (Net.run)": lambda: fast.run(feed, [common.OUTPUT])}
    counts = {}
    from ncnnlike.runtime.lower import lower_graph
    fp32_model = lower_graph(fp32.graph, {common.INPUT: (3, 224, 224)}, [common.OUTPUT], int8=False)[0]
    x32 = {fp32_model.graph.input[0].name: image[None]}
    for name, variant in (("our fp32, raw session", fp32_model), ("our fp32, depthwise removed",
                                                                  without_depthwise(fp32_model))):
        sess = ort_session(variant, counts=counts.setdefault(name, collections.Counter()))
        runners[name] = lambda sess=sess: sess.run(None, x32)
    net, model, outputs = fast_model(pair)
    x = {model.graph.input[0].name: image[None]}
    for name, (variant, level) in net_variants(net, model).items():
        sess = ort_session(variant, Level.ORT_ENABLE_EXTENDED if level == "extended" else Level.ORT_ENABLE_ALL,
                           counts=counts.setdefault(name, collections.Counter()))
        runners[name] = lambda sess=sess: sess.run(None, x)
    for name in ["ort", "none"] + (["numba"] if with_numba else []):
        seg = Segmented(net, model, outputs, name)
        runners["segmented, depthwise: %s" % seg.label] = lambda seg=seg: seg(image[None])
    names = list(runners)
    cpu = {n: [] for n in names}
    for r in range(5 + rounds):
        shift = r % len(names)
        for n in names[shift:] + names[:shift]:
            t0 = time.process_time()
            runners[n]()
            if r >= 5:
                cpu[n].append(time.process_time() - t0)
    return {n: 1000 * float(np.median(v)) for n, v in cpu.items()}, counts


def print_net(ms, counts):
    base = ms["our fp32 (Net.run)"]
    print("| whole Lite0, 1 thread | CPU ms | / our fp32 | optimized graph |")
    print("|---|---|---|---|")
    for name, v in ms.items():
        graph = ", ".join("%s %d" % kv for kv in sorted(counts.get(name, {}).items(), key=lambda kv: -kv[1])[:6])
        print("| %s | %.3f | %.3fx | %s |" % (name, v, v / base, graph))


def print_extrapolation(ms, dw_sums, macs):
    """Section 3: what the target leaves for the depthwise convs."""
    fp32, fast = ms["our fp32 (Net.run)"], ms["fast int8 (Net.run)"]
    rest = ms["fast int8, depthwise removed"]
    segs = ms["segmented, depthwise: none (segments only)"]
    budget = TARGET * fp32
    fp32_dw = ms["our fp32, raw session"] - ms["our fp32, depthwise removed"]
    fast_dw = ms["fast int8, raw session (ORT_ENABLE_ALL)"] - rest
    print("target %.2fx of our fp32 %.3f ms (Net.run) = %.3f ms; fast int8 now %.3f ms (%.3fx)"
          % (TARGET, fp32, budget, fast, fast / fp32))
    print("depthwise convs in the whole graph (raw sessions with and without them): fp32 %.3f ms, fast int8 %.3f ms "
          "(%.2fx of fp32's); fast int8 without them %.3f ms = %.3fx" % (fp32_dw, fast_dw, fast_dw / fp32_dw, rest,
                                                                         rest / fp32))
    left = budget - rest
    print("in-graph (a kernel inside onnxruntime's session): the target leaves %.3f ms for the 16 depthwise convs "
          "= %.2fx of fp32's depthwise time in the graph, %.2fx of fast int8's"
          % (left, left / fp32_dw, left / fast_dw))
    print("segmented (onnxruntime segments around a kernel of ours): the segments alone take %.3f ms (%.3fx), "
          "%.3f ms over the whole graph: the target leaves %.3f ms for the depthwise convs (%.2fx of fp32's)"
          % (segs, segs / fp32, segs - rest, budget - segs, (budget - segs) / fp32_dw))
    ratio = dw_sums["numba"] / dw_sums["int8 u8s8 NHWC (fast path)"]
    estimate = rest + fast_dw * ratio
    measured = ms.get("segmented, depthwise: numba kernel")
    print("  the numba kernel: %.2fx of onnxruntime's fp32 one-layer sum, %.2fx of its int8 one; in-graph estimate "
          "(fast int8's in-graph depthwise time x %.2f) %.3f ms = %.3fx; segmented, measured: %s"
          % (dw_sums["numba"] / dw_sums["fp32 Conv+ReLU6"], ratio, ratio, estimate, estimate / fp32,
             "%.3f ms = %.3fx" % (measured, measured / fp32) if measured else "-"))
    ghz = mhz() / 1000
    for label, ms_left in (("in-graph", budget - rest), ("segmented", budget - segs)):
        rate = macs / ms_left / 1e6 if ms_left > 0 else float("inf")
        print("  %s: %.1f M multiply-adds in %.3f ms = %.0f G/s = %.1f per cycle at the %.2f GHz /proc/cpuinfo reports "
              "(one AVX-512 vpmaddwd: 32 int16 multiply-adds)" % (label, macs / 1e6, ms_left, rate, rate / ghz, ghz))


def check_layers(pair, layers, images):
    """Mismatching outputs of the numba kernel against our "sim" mode (ncnn's int8 arithmetic)."""
    from tools import proto_dw_numba
    bad, total = sim_mismatches(pair, layers, images, proto_dw_numba.DW)
    print("numba depthwise vs our sim mode (ncnn's arithmetic), %d layers x %d images: %d of %d outputs differ"
          % (len(layers), len(images), bad, total))


def sim_mismatches(pair, layers, images, kernel_class):
    """(outputs that differ, outputs) of a prototype kernel (kernel_class(L, shape, top, pads, strides),
    called as kernel(x, out) on NHWC uint8 q+128) against our "sim" mode, each depthwise layer fed
    sim's own int8 bottom."""
    net = common.our_net(*pair, "sim", 1)
    by_name = {layer.name: layer for layer in net.graph.layers}
    bad = total = 0
    for d in layers:
        layer = by_name[d["name"]]
        kernel = kernel_class(d["L"], d["shape"], d["top"], d["pads"], (d["p"].stride_h, d["p"].stride_w))
        blobs = net.run({common.INPUT: images}, [layer.bottoms[0], layer.tops[0]])
        x = (np.rint(blobs[layer.bottoms[0]]).astype(np.int16) + 128).astype(np.uint8).transpose(0, 2, 3, 1)
        c, oh, ow = d["top"]
        for i in range(len(images)):
            out = np.empty((1, oh, ow, c), np.uint8)
            kernel(np.ascontiguousarray(x[i:i + 1]), out)
            bad += int(np.sum(out[0].transpose(2, 0, 1).astype(np.int16) - 128 != np.rint(blobs[layer.tops[0]][i])))
            total += out.size
    return bad, total


def check(pair, count, layers):
    """Fast int8 and segmented-numba against pip ncnn's int8 logits on `count` eval images."""
    images = common.eval_inputs(common.list_paths("eval.txt", count))
    check_layers(pair, layers, images[:4])
    ref = common.ncnn_logits(common.ncnn_net(*pair, True, 1), images)
    fast = common.our_logits(common.our_net(*pair, True, 1), images)
    net, model, outputs = fast_model(pair)
    seg = Segmented(net, model, outputs, "numba")
    numba_logits = np.stack([seg(x[None]).reshape(-1).copy() for x in images])
    for name, logits in (("fast int8", fast), ("segmented, numba depthwise", numba_logits)):
        s = common.scores(logits, np.zeros(len(images), int), ref)
        print("%s vs pip ncnn int8 on %d eval images: top-1 agreement %.1f%%, cosine mean %.5f min %.5f"
              % (name, count, 100 * s["agree"], s["cos_mean"], s["cos_min"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=os.path.join(common.LITE0, "lite0-kl.table"))
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--check", type=int, default=0, help="eval images compared with pip ncnn (0: none)")
    ap.add_argument("--no-layers", action="store_true")
    ap.add_argument("--no-net", action="store_true")
    args = ap.parse_args()
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    image = common.eval_input(common.list_paths("eval.txt", 1)[0])
    with tempfile.TemporaryDirectory() as tmp:
        pair = common.make_int8(args.table, os.path.join(tmp, "int8.param"), os.path.join(tmp, "int8.bin"))
        header = common.machine_header("1") + ["numba %s" % (numba_version or "not installed: no numba rows")]
        layers = dw_layers(pair)
        for line in header:
            print(line)
        dw_sums = None
        if not args.no_layers and numba_version:
            table, jit_maps = layer_table(layers, args.rounds, tmp)
            print("\n1. Lite0's depthwise layers alone (kernel time; numba: CPU time per call)\n")
            dw_sums = print_layers(layers, table)
            print("numba mapped %d anonymous executable regions for its compiled code (the runtime maps none)"
                  % jit_maps)
        if not args.no_net:
            ms, counts = net_table(pair, args.rounds, image, numba_version is not None)
            print("\n2. Whole Lite0, median CPU time per inference over %d interleaved rounds\n" % args.rounds)
            print_net(ms, counts)
            if dw_sums:
                print("\n3. Extrapolation\n")
                print_extrapolation(ms, dw_sums, dw_macs(layers))
        if args.check and numba_version:
            print()
            check(pair, args.check, layers)
        print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
