"""Why method=kl collapses PP-OCRv4 rec: per blob, kl's threshold against the 99.99th percentile's,
the share of values kl clips, and the exact match with kl at that one blob and the percentile
everywhere else. Prints one table (worst first); never fails a build.

    python tools/ocr_kl_blame.py [--lines 60] [--thread 2] [--keep DIR]

Tables: our model2table method=kl (ncnn2table's numbers) and method=percentile on the 200
textlines/calib lines (RapidOCR preprocessing, .npy, type=1); blob values from every 7th value of
the fp32 model's blobs over those lines; exact match on the first --lines textlines/eval lines in
our runtime (sim: ncnn's int8 arithmetic). docs/int8-accuracy.md quotes it.
"""
import argparse
import os
import sys
import tempfile
from collections import OrderedDict

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import ocr  # noqa: E402
from ncnnlike.io.model import load_model  # noqa: E402
from ncnnlike.quant.convert import quantize_graph  # noqa: E402
from ncnnlike.quant.tablefile import Table, read_table  # noqa: E402
from ncnnlike.runtime import Net  # noqa: E402


def tables(param, binfile, folder, thread):
    """{method: Table} for kl and percentile, made with the CLI on the calibration lines."""
    calib, _, _ = ocr.load_split("calib")
    listfile = ocr.write_npy_list(calib, folder, "calib-npy")
    found = {}
    for method in ("kl", "percentile"):
        path = os.path.join(folder, "ocr-%s.table" % method)
        ocr.run_cli("model2table", [param, binfile, listfile, path, *ocr.NPY_OPTIONS, "thread=%d" % thread,
                                    "method=" + method])
        found[method] = read_table(path)
    return found, calib


def blob_values(graph, layers, calib, thread):
    """{layer: every 7th value of its bottom blob over the calibration lines} (fp32)."""
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = thread, False
    bottoms = {name: graph.layer(name).bottoms[0] for name in layers}
    values = {name: [] for name in layers}
    for i in range(0, len(calib), 20):
        out = net.run({ocr.INPUT: calib[i:i + 20]}, list(dict.fromkeys(bottoms.values())))
        for name in layers:
            values[name].append(out[bottoms[name]].astype(np.float32).ravel()[::7])
    return {name: np.concatenate(v) for name, v in values.items()}, bottoms


def exact_match(graph, table, inputs, truths, chars, thread):
    """Exact match of the int8 model of `table` (sim) on `inputs`."""
    net = Net.from_graph(quantize_graph(graph, table)[0])
    net.opt.num_threads, net.opt.use_int8_inference = thread, "sim"
    out = graph.output_names()[0]
    probs = np.concatenate([net.run({ocr.INPUT: inputs[i:i + 20]}, [out])[out] for i in range(0, len(inputs), 20)])
    strings = ocr.decode(probs.reshape(len(inputs), -1, len(chars)), chars)
    return float(np.mean([s == t for s, t in zip(strings, truths)]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=60, help="eval lines scored per table")
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--keep", help="work in this folder and keep it")
    args = ap.parse_args()
    folder = args.keep or tempfile.mkdtemp(prefix="ocr_kl_blame-")
    os.makedirs(folder, exist_ok=True)
    param, binfile = ocr.prepare_model(folder)
    graph = load_model(param, binfile)
    found, calib = tables(param, binfile, folder, args.thread)
    kl, pct = found["kl"], found["percentile"]
    values, bottoms = blob_values(graph, list(pct.blobs), calib, args.thread)
    inputs, truths, _ = ocr.load_split("eval", args.lines)
    chars = ocr.characters()
    score = lambda table: exact_match(graph, table, inputs, truths, chars, args.thread)  # noqa: E731
    rows = []
    for name in pct.blobs:
        blobs = OrderedDict((k, kl.blobs[k] if k == name else v) for k, v in pct.blobs.items())
        t_kl, t_pct = 127 / float(kl.blobs[name].values[0]), 127 / float(pct.blobs[name].values[0])
        v = values[name]
        rows.append((score(Table(pct.path, pct.weights, blobs)), name, bottoms[name], float(np.abs(v).max()),
                     float(v.min()), t_kl, t_pct, float(np.mean(np.abs(v) > t_kl))))
    print("PP-OCRv4 rec: kl at one blob, the 99.99th percentile elsewhere; exact match on %d eval lines "
          "(percentile everywhere %.2f%%, kl everywhere %.2f%%)" % (len(inputs), 100 * score(pct), 100 * score(kl)))
    print("| %-14s | %-22s | %8s | %8s | %8s | %8s | %8s | %8s |" % (
        "layer", "bottom blob", "absmax", "min", "kl thr", "pct thr", "kl clips", "exact %"))
    print("|%s|" % "|".join("-" * w for w in (16, 24, 10, 10, 10, 10, 10, 10)))
    for exact, name, bottom, absmax, low, t_kl, t_pct, clipped in sorted(rows):
        print("| %-14s | %-22s | %8.3f | %8.3f | %8.3f | %8.3f | %7.2f%% | %8.2f |" % (
            name, bottom, absmax, low, t_kl, t_pct, 100 * clipped, 100 * exact))


if __name__ == "__main__":
    main()
