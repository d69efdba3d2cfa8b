"""Our fp32 runtime vs plain onnxruntime on the source ONNX: Lite0 batch-1 latency, side by side.

    python tools/bench_runtime.py [--rounds 5] [--iters 30] [--threads 2]

Converts ../shared/models/efficientnet-lite0.onnx with onnx2model (and model-optimize), then
alternates rounds of N inferences of each engine on the same input; prints one table of medians
and the ratio ours / onnxruntime (target about 1.0). Never fails a build.
"""
import argparse
import os
import statistics
import time

import numpy as np
import onnxruntime as ort

from ncnnlike.onnx.importer import import_onnx
from ncnnlike.passes import optimize
from ncnnlike.runtime import Net

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(os.path.dirname(REPO), "shared", "models", "efficientnet-lite0.onnx")


def timed(fn, iters):
    """Median milliseconds of `iters` calls."""
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(MODEL, so, providers=["CPUExecutionProvider"])
    engines = {}
    for label, graph in (("ours (onnx2model)", import_onnx(MODEL)), ("ours (model-optimize)", None)):
        if graph is None:
            graph = import_onnx(MODEL)
            optimize(graph, lambda line: None)
        net = Net.from_graph(graph)
        net.opt.num_threads = args.threads
        name_in, name_out = graph.input_names()[0], graph.output_names()[0]
        engines[label] = (lambda n=net, i=name_in, o=name_out: n.run({i: x}, [o]))
    engines["onnxruntime (source ONNX)"] = lambda: sess.run(None, {"input": x})
    for fn in engines.values():
        for _ in range(5):
            fn()
    results = {label: [] for label in engines}
    for _ in range(args.rounds):
        for label, fn in engines.items():
            results[label].append(timed(fn, args.iters))
    base = statistics.median(results["onnxruntime (source ONNX)"])
    print("| engine | median ms (per round) | ratio to onnxruntime |")
    print("|---|---|---|")
    for label, rounds in results.items():
        med = statistics.median(rounds)
        print("| %s | %.2f (%s) | %.2f |" % (label, med, ", ".join("%.1f" % r for r in rounds), med / base))


if __name__ == "__main__":
    main()
