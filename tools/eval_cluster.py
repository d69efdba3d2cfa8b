"""Score an fp32 model and its int8 model over an image list, in one process or on a Ray cluster.
Prints one table: top-1 / top-5 of both models (@1, @5), top-1 agreement and cosine int8 vs fp32, wall
time and images/s per configuration, and whether every per-image result equals the first row's.

    python tools/eval_cluster.py [--workers 0,2] [--ray-address host:port] [--thread 1] [--batch 8]
                                 [--limit N] [--int8-mode fast|exact|sim] [--fp P B] [--int8 P B]
                                 [--list eval.txt] [--labels labels.txt]

--workers: comma list; 0 = this process, N = N Ray workers (a local Ray started for the run,
or the cluster at --ray-address, where every node must see the image paths: docs/scale-out.md).
Defaults: EfficientNet-Lite0 (../shared/reference/lite0: lite0-opt and the real ncnn2int8 output
lite0-int8-kl) on imagenet-sample eval.txt with the README preprocessing (tools/common.eval_input,
shipped to the workers by value), labels from labels.txt.
"""
import argparse
import contextlib
import os
import platform
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common  # noqa: E402


class EvalInput:
    """The README evaluation preprocessing as an iter_batches input (name, load(path, where))."""
    name = common.INPUT
    skip_bad = False

    def load(self, path, where):
        return common.eval_input(path)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="0,2", help="comma list: 0 = this process, N = N Ray workers")
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--thread", type=int, default=1, help="threads per worker (and of this process for 0)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--int8-mode", default="fast", choices=["fast", "exact", "sim"])
    ap.add_argument("--fp", nargs=2, default=[common.FP32_PARAM, common.FP32_BIN])
    ap.add_argument("--int8", nargs=2, default=[os.path.join(common.LITE0, "lite0-int8-kl.param"),
                                                os.path.join(common.LITE0, "lite0-int8-kl.bin")])
    ap.add_argument("--list", default=os.path.join(common.SAMPLE, "eval.txt"))
    ap.add_argument("--labels", default=os.path.join(common.SAMPLE, "labels.txt"))
    args = ap.parse_args()
    args.workers = [int(w) for w in args.workers.split(",") if w != ""]
    return args


def labels_for(entries, labels_file):
    """Class index per list entry from `<file> <class>` lines (by file name), or None."""
    if not labels_file or not os.path.exists(labels_file):
        return None
    with open(labels_file) as f:
        table = dict(line.split()[:2] for line in f if line.strip())
    names = [os.path.basename(e.path) for e in entries]
    return [int(table[n]) for n in names] if all(n in table for n in names) else None


def pct(x):
    return "-" if x is None else "%.2f" % (100 * x)


def main():
    args = parse_args()
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.images import read_lists
    from ncnnlike.scale.cluster import Cluster
    from ncnnlike.scale.evaluate import score_list
    fp, int8 = load_model(*args.fp), load_model(*args.int8)
    lists = [entries[:args.limit] for entries in read_lists([args.list])]
    labels = labels_for(lists[0], args.labels)
    rows, first = [], None
    top = max(args.workers + [1])
    session = Cluster(top, args.thread, args.ray_address)
    if any(args.workers):
        import ray
        ray.cloudpickle.register_pickle_by_value(common)     # the workers need not see tools/
    with (session.session() if any(args.workers) else contextlib.nullcontext()):
        for workers in args.workers:
            cluster = Cluster(workers, args.thread, args.ray_address) if workers else None
            start = time.perf_counter()
            scores = score_list(fp, int8, lists, [EvalInput()], args.batch, args.thread, args.int8_mode, cluster)
            wall = time.perf_counter() - start
            same = "-" if first is None else ("yes" if _equal(first, scores) else "NO")
            first = first or scores
            s = scores.summary(labels)
            rows.append("| %-16s | %6s | %6s | %6s | %6s | %7s | %-17s | %8.1f | %8.2f | %-9s |" % (
                "%d Ray workers" % workers if workers else "this process", pct(s.get("fp32_top1")),
                pct(s.get("int8_top1")), pct(s.get("fp32_top5")), pct(s.get("int8_top5")), pct(s["agree"]),
                "%.4f (%.4f)" % (s["cos_mean"], s["cos_min"]), wall, s["images"] / wall, same))
            sys.stderr.write(rows[-1] + "\n")
    print("fp32 %s vs int8 %s (int8 mode %s) on %s: %d images, batch %d, %d thread(s) per worker"
          % (os.path.basename(args.fp[0]), os.path.basename(args.int8[0]), args.int8_mode, args.list,
             len(lists[0]), args.batch, args.thread))
    print("cpu: %s, %d cores, load average %s; local Ray start-up %.1f s"
          % (platform.processor() or platform.machine(), os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg()),
             session.startup_seconds))
    print("| run              | fp32@1 | int8@1 | fp32@5 | int8@5 | agree % | cos mean (min)    | wall s   "
          "| images/s | = row 1   |")
    print("|------------------|--------|--------|--------|--------|---------|-------------------|----------"
          "|----------|-----------|")
    print("\n".join(rows))


def _equal(a, b):
    import numpy as np
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)


if __name__ == "__main__":
    main()
