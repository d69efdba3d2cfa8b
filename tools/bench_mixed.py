"""Benchmark automatic mixed precision on EfficientNet-Lite0: top-1 of a deliberately poor table
before and after, layers kept float, and the time it took. Prints one table; never fails a build.

    python tools/bench_mixed.py [--table T | --method minmax] [--target 0.995[,0.997]] [--rank both]
                                [--rank-images 32] [--search fast|exact] [--thread 2] [--plot /tmp/lite0-snr.png] [--out mixed.table]

Model: ../shared/reference/lite0/lite0-opt.{param,bin} (the real ncnnoptimize output). Table: the
real ncnn2table's kl table (lite0-kl.table: -1.25 pt top-1 here; lite0-aciq.table is far worse,
its error spread over every layer) unless --table or --method (then our model2table calibration
on calib.txt). Mixed precision runs on calib.txt (100 images; the ranking on the first
--rank-images of them) with model2table's preprocessing and options (as a user runs model-compare);
top-1 is scored on eval.txt (400 images, labels.txt) with the README preprocessing of
tools/eval_imagenet.py (centre crop: fp32 89.25), in our exact int8 runtime. With several
targets, later ones reuse the trials of earlier ones (their time is the extra search only).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
LITE0 = os.path.join(SHARED, "reference", "lite0")
SAMPLE = os.path.join(SHARED, "data", "imagenet-sample")
OPTIONS = {"mean": "[127,127,127]", "norm": "[0.0078125,0.0078125,0.0078125]", "shape": "[224,224,3]",
           "pixel": "RGB"}

from tools import common  # noqa: E402
from ncnnlike.io.model import load_model  # noqa: E402
from ncnnlike.quant.compare import Samples, compare_models, reference_outputs, subset  # noqa: E402
from ncnnlike.quant.convert import quantize_graph  # noqa: E402
from ncnnlike.quant.images import parse_preprocess, read_lists  # noqa: E402
from ncnnlike.quant.sensitivity import Trials, best_mixed, mixed_table_text, ranking, sensitivity  # noqa: E402
from ncnnlike.io.atomic import atomic_open  # noqa: E402
from ncnnlike.quant.tablefile import read_table, write_table  # noqa: E402
from ncnnlike.runtime import Net  # noqa: E402


def calib_samples(graph, threads):
    """calib.txt with model2table's preprocessing (the table's own options)."""
    prep = parse_preprocess(OPTIONS, graph.input_names())
    return Samples(read_lists([os.path.join(SAMPLE, "calib.txt")]), prep, batch_size=16, threads=threads)


def predictions(graph, inputs, threads, int8):
    """argmax of the logits for every eval input."""
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = threads, int8
    return common.our_logits(net, inputs).argmax(1)


def make_table(graph, args, folder):
    """The poor table: a given file, or our calibration with --method on calib.txt."""
    if not args.method:
        return args.table
    from ncnnlike.cli.model2table import calibrate
    lines = calibrate(graph, [os.path.join(SAMPLE, "calib.txt")], OPTIONS, args.method, {}, args.thread, 16)[:3]
    path = os.path.join(folder, "%s.table" % args.method)
    write_table(path, *lines)
    return path


def plot(graph, table, calib, args):
    from ncnnlike.quant.plot import comparison_png
    fp, q = Net.from_graph(graph), Net.from_graph(quantize_graph(graph, table)[0])
    for net in (fp, q):
        net.opt.num_threads = args.thread
    c = compare_models(fp, q, calib, keep_reference=False)
    title = "EfficientNet-Lite0, %s: per-layer SNR fp32 vs int8" % os.path.basename(table.path)
    with atomic_open(args.plot, "wb") as f:
        f.write(comparison_png(c, title))


def progress(done, total):
    sys.stderr.write("sensitivity %d/%d\n" % (done, total))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=os.path.join(LITE0, "lite0-kl.table"))
    parser.add_argument("--method", choices=["minmax", "kl", "aciq", "percentile", "mse"])
    parser.add_argument("--target", default="0.995")
    parser.add_argument("--rank", default="both", choices=["both", "float_one", "quantize_one"])
    parser.add_argument("--rank-images", type=int, default=32, help="calib images the ranking runs on")
    parser.add_argument("--search", default="fast", choices=["fast", "exact"],
                        help="int8 mode of the ranking/search trials (fast is confirmed exactly)")
    parser.add_argument("--thread", type=int, default=2)
    parser.add_argument("--plot")
    parser.add_argument("--out")
    args = parser.parse_args()
    graph = load_model(os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin"))
    folder = tempfile.mkdtemp(prefix="bench_mixed-")
    table = read_table(make_table(graph, args, folder))
    calib = calib_samples(graph, args.thread)
    paths = common.list_paths("eval.txt")
    evals, labels = common.eval_inputs(paths, args.thread), common.labels_for(paths)
    fp_pred = predictions(graph, evals, args.thread, False)
    int8_pred = predictions(quantize_graph(graph, table)[0], evals, args.thread, True)
    if args.plot:
        plot(graph, table, calib, args)

    start = time.perf_counter()
    fp_net = Net.from_graph(graph)
    fp_net.opt.num_threads = args.thread
    reference = reference_outputs(fp_net, calib)
    mode = "fast" if args.search == "fast" else True
    trials = Trials(graph, table, calib, reference, args.thread, mode)
    verify = Trials(graph, table, calib, reference, args.thread) if mode == "fast" else None
    rank_trials = trials if args.rank_images >= calib.count else \
        Trials(graph, table, *subset(calib, reference, args.rank_images), args.thread, mode)
    modes = ("float_one", "quantize_one") if args.rank == "both" else (args.rank,)
    found = sensitivity(rank_trials, modes, progress)
    order = ranking(found, modes[-1])
    prepared = time.perf_counter() - start
    rows = []
    for target in [float(t) for t in args.target.split(",")]:
        t0, runs = time.perf_counter(), trials.runs + (verify.runs if verify else 0)
        result, used = best_mixed(trials, found, modes, target, verify)
        text = mixed_table_text(open(table.path).read(), table, result, found, used, calib.count)
        path = args.out or os.path.join(folder, "mixed-%g.table" % target)
        with atomic_open(path, "w") as f:
            f.write(text)
        searched = time.perf_counter() - t0
        mixed_pred = predictions(quantize_graph(graph, read_table(path))[0], evals, args.thread, True)
        rows.append((target, result, mixed_pred, prepared + searched if not rows else searched,
                     trials.runs + (verify.runs if verify else 0) - runs))

    n = len(labels)
    top1 = lambda pred: 100.0 * np.mean(pred == labels)  # noqa: E731
    agree = lambda pred: 100.0 * np.mean(pred == fp_pred)  # noqa: E731
    print("EfficientNet-Lite0, table %s, rank=%s, search=%s (confirmed exact), %d threads; mixed precision on calib.txt (%d images), "
          "top-1 on eval.txt (%d images)" % (os.path.basename(table.path), args.rank, args.search, args.thread, calib.count, n))
    print("sensitivity (%s) on %d calib images: %d layers, %.1f s (including the one fp32 pass); top 5 by %s: %s"
          % (args.rank, found[order[0]].baseline.samples, len(order), prepared, modes[-1],
             ", ".join(order[:5])))
    print("%-8s %-10s %8s %8s %8s %8s %8s %13s %8s %7s" % ("target", "", "top-1", "vs fp32", "agree",
                                                           "cos", "kept", "% float", "time s", "trials"))
    print("%-8s %-10s %8.2f %8s %8s %8s %8s %13s %8s %7s" % ("-", "fp32", top1(fp_pred), "", "", "", "", "", "", ""))
    print("%-8s %-10s %8.2f %+8.2f %8.2f %8.4f %8s %13s %8s %7s" % ("-", "int8", top1(int8_pred),
          top1(int8_pred) - top1(fp_pred), agree(int8_pred), (verify or trials).all_int8().score, "0", "", "", ""))
    for target, result, pred, seconds, runs in rows:
        print("%-8g %-10s %8.2f %+8.2f %8.2f %8.4f %8s %13s %8.1f %7d" % (
            target, "mixed" + ("" if result.met else "(miss)"), top1(pred), top1(pred) - top1(fp_pred), agree(pred),
            result.after.score, "%d/%d" % (len(result.float_layers), len(order)),
            "%.1f%%" % (100.0 * len(result.float_layers) / len(order)), seconds, runs))
        print("         kept float (%s ranking): %s" % (result.ranking, ", ".join(result.float_layers) or "-"))


if __name__ == "__main__":
    main()
