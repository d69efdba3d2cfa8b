"""Scale-out benchmark: model2table's two passes (Lite0, method=kl) on 500 images, in one process
and on 1 and 2 local Ray workers; prints one table (wall, images/s, speed-up, Ray and worker
start-up, driver and per-worker peak RSS, table bytes equal to one process's) and the per-shard
driver costs the docs' cost model uses (docs/scale-out.md). Never fails a build.

    python tools/bench_ray.py [--images 500] [--workers 1,2] [--thread 1] [--batch 4] [--method kl]

Each configuration runs in a fresh subprocess (so peak RSS is its own) that starts its own local
Ray with workers x thread CPUs. Images: imagenet-sample calib.txt then eval.txt (500 JPEGs),
model2table's ncnn preprocessing (tools/common.CALIB_OPTIONS).
"""
import argparse
import json
import os
import pickle
import platform
import resource
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common  # noqa: E402

MB = 1 << 20


def options():
    return dict(token.split("=", 1) for token in common.CALIB_OPTIONS)


def setup(listfile):
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.images import parse_preprocess, read_lists
    graph = load_model(common.FP32_PARAM, common.FP32_BIN)
    return graph, read_lists([listfile]), parse_preprocess(options(), graph.input_names())


def write(graph, stats, method, path):
    from ncnnlike.quant import methods
    from ncnnlike.quant.tablefile import write_table
    write_table(path, *methods.compute_table(graph, stats, method))


def run_local(cfg):
    """One process, cfg['thread'] threads: the library calls of model2table."""
    from ncnnlike.quant import methods
    from ncnnlike.quant.calibrate import collect_stats
    from ncnnlike.runtime import Net
    graph, lists, preprocess = setup(cfg["list"])
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = cfg["thread"], False
    start = time.perf_counter()
    stats = collect_stats(net, lists, preprocess, methods.needs_histogram(cfg["method"]), cfg["batch"],
                          cfg["thread"], progress=False)
    wall = time.perf_counter() - start
    write(graph, stats, cfg["method"], cfg["table"])
    stats.save(cfg["stats"])
    return {"wall": wall}


def run_ray(cfg):
    """cfg['workers'] Ray workers: a local Ray, a ping pool (worker start-up), then the calibration."""
    import ray
    from ncnnlike.quant import methods
    from ncnnlike.scale.calibration import CalibrationWorker, cluster_stats
    from ncnnlike.scale.cluster import Cluster
    from ncnnlike.scale.shards import portable_lists
    graph, lists, preprocess = setup(cfg["list"])
    cluster = Cluster(cfg["workers"], cfg["thread"])
    with cluster.session():
        start = time.perf_counter()
        with cluster.pool(CalibrationWorker, graph, portable_lists(lists), preprocess, cfg["batch"], cfg["thread"]) \
                as pool:
            ray.get([a.usage.remote() for a in pool.actors])
        spawn = time.perf_counter() - start
        start = time.perf_counter()
        stats = cluster_stats(cluster, graph, lists, preprocess, methods.needs_histogram(cfg["method"]),
                              cfg["batch"], progress=False)
        wall = time.perf_counter() - start
        stop = time.perf_counter()
    shutdown = time.perf_counter() - stop
    write(graph, stats, cfg["method"], cfg["table"])
    return {"wall": wall, "ray_start": cluster.startup_seconds, "spawn": spawn, "shutdown": shutdown,
            "worker_peaks": [u[0] for u in cluster.worker_usage], "worker_cpu": sum(u[1] for u in cluster.worker_usage)}


def child(cfg):
    result = run_ray(cfg) if cfg["workers"] else run_local(cfg)
    own = resource.getrusage(resource.RUSAGE_SELF)
    result["driver_peak"], result["driver_cpu"] = own.ru_maxrss * 1024, own.ru_utime + own.ru_stime
    print(json.dumps(result))


def shard_costs(stats_path, shard_images):
    """Driver cost per shard: merging one phase-1 / phase-2 part (ms) and its pickled size (bytes)."""
    import copy
    from ncnnlike.quant.calibrate import merge_stats
    from ncnnlike.quant.stats import load_stats
    full = load_stats(stats_path)
    phase1 = copy.deepcopy(full)
    for layer in phase1.values():
        layer.histogram = None
    out = {}
    for name, part in (("phase1", phase1), ("phase2", full)):
        start, rounds = time.perf_counter(), 50
        merged = part
        for _ in range(rounds):
            merged = merge_stats([merged, part]) if name == "phase2" else merge_stats([merged, part])
        out[name] = ((time.perf_counter() - start) / rounds * 1000, len(pickle.dumps(part)))
    return out


def row(name, r, base, images):
    peaks = ", ".join("%.0f" % (p / MB) for p in r.get("worker_peaks", [])) or "-"
    start = "-" if "ray_start" not in r else "%.1f" % r["ray_start"]
    spawn = "-" if "spawn" not in r else "%.1f" % r["spawn"]
    speed = "-" if base is None else "%.2fx" % (base / r["wall"])
    cpu = r["driver_cpu"] + r.get("worker_cpu", 0.0)
    return "| %-22s | %7.1f | %8.1f | %8s | %7.0f | %9.2f | %7s | %8s | %10.0f | %-18s | %-5s |" % (
        name, r["wall"], images / r["wall"], speed, cpu, images / cpu, start, spawn, r["driver_peak"] / MB, peaks,
        "yes" if r["same"] else "NO")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--thread", type=int, default=1)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--method", default="kl")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return child(json.loads(args.one))
    tmp = tempfile.mkdtemp()
    paths = (common.list_paths("calib.txt") + common.list_paths("eval.txt"))[:args.images]
    listfile = common.write_list(paths, tmp)
    configs = [("one process, thread=%d" % args.thread, 0), ("one process, thread=%d" % (2 * args.thread), 0)]
    configs += [("Ray, %d worker%s" % (w, "s" if w > 1 else ""), w) for w in map(int, args.workers.split(","))]
    results = []
    for k, (name, workers) in enumerate(configs):
        thread = 2 * args.thread if k == 1 else args.thread
        cfg = {"list": listfile, "workers": workers, "thread": thread, "batch": args.batch, "method": args.method,
               "table": os.path.join(tmp, "%d.table" % k), "stats": os.path.join(tmp, "%d.npz" % k)}
        out = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit("%s failed:\n%s" % (name, out.stderr[-3000:]))
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["same"] = open(cfg["table"], "rb").read() == open(os.path.join(tmp, "0.table"), "rb").read()
        results.append((name, result))
        sys.stderr.write("%s: %.1f s\n" % (name, result["wall"]))
    ray_one = next((r["wall"] for name, r in results if name.startswith("Ray, 1 ")), None)
    print("model2table method=%s on EfficientNet-Lite0, %d images (imagenet-sample calib+eval), batch %d; "
          "cpu %s, %d cores, load average %s" % (args.method, len(paths), args.batch,
                                                 platform.processor() or platform.machine(), os.cpu_count(),
                                                 " ".join("%.2f" % x for x in os.getloadavg())))
    print("| run                    | wall s  | images/s | vs Ray 1 | CPU s   | img/CPU-s | Ray s   | worker s "
          "| driver MB  | worker peak MB     | same  |")
    print("|------------------------|---------|----------|----------|---------|-----------|---------|----------"
          "|------------|--------------------|-------|")
    for name, r in results:
        print(row(name, r, ray_one if name.startswith("Ray") else None, len(paths)))
    print("wall: the two passes (Ray rows: after Ray start-up, worker start-up included); CPU s: driver + workers "
          "(the whole child process for one process, Ray's own daemons not counted); Ray s: ray.init of a local Ray; "
          "worker s: starting the workers with the model (a separate pool, measured once); Ray shutdown %s s"
          % ", ".join("%.1f" % r["shutdown"] for _, r in results if "shutdown" in r))
    costs = shard_costs(os.path.join(tmp, "0.npz"), None)
    print("driver per shard: merge a phase-1 part %.2f ms (%d bytes pickled), a phase-2 part %.2f ms (%d bytes "
          "pickled)" % (costs["phase1"][0], costs["phase1"][1], costs["phase2"][0], costs["phase2"][1]))


if __name__ == "__main__":
    main()
