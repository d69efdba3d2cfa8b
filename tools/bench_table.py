"""Benchmark model2table on EfficientNet-Lite0: wall and CPU time vs the real ncnn2table, and peak
memory for 100 vs 500 images. Prints one table; never fails a build.

    python tools/bench_table.py [--method kl] [--thread 2] [--repeat 3] [--batch 16]

Each measurement runs model2table in a fresh process (so peak RSS is its own); the 100-image job
runs --repeat times and its median is reported. The real ncnn2table's wall and CPU time for the
same job (100 images, thread=2) are read from ../shared/reference/lite0/timing.json when present
(2.80-2.89 s wall, ~196% CPU for kl, on an idle machine of this kind). The machine is shared: the
load average is printed, and CPU seconds (user + system) are less sensitive to load than wall time.
The last lines give the floor of this design: the time of one plain fp32 pass over the 100 decoded
images, twice (kl and aciq need ncnn's two passes), as a fraction of ncnn2table's wall time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(REPO), "shared")
LITE0 = os.path.join(SHARED, "reference", "lite0")
SAMPLE = os.path.join(SHARED, "data", "imagenet-sample")
OPTS = ["mean=[127,127,127]", "norm=[0.0078125,0.0078125,0.0078125]", "shape=[224,224,3]", "pixel=RGB"]
CHILD = """
import resource, sys, time
from ncnnlike.cli.model2table import main
t0 = time.perf_counter()
code = main(sys.argv[1:])
u = resource.getrusage(resource.RUSAGE_SELF)
print("RESULT %.3f %d %d %.3f" % (time.perf_counter() - t0, u.ru_maxrss, code, u.ru_utime + u.ru_stime))
"""


def list_file(folder, names, count):
    path = os.path.join(folder, "list%d.txt" % count)
    paths = []
    for name in names:
        with open(os.path.join(SAMPLE, name)) as f:
            paths += [os.path.join(SAMPLE, line.strip()) for line in f if line.strip()]
    with open(path, "w") as f:
        f.write("\n".join(paths[:count]) + "\n")
    return path


def run(listfile, args, folder):
    """(process wall s, model2table wall s, peak RSS MB, CPU s) of one model2table process."""
    table = os.path.join(folder, "out.table")
    cmd = [sys.executable, "-c", CHILD, os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin"),
           listfile, table, *OPTS, "thread=%d" % args.thread, "method=" + args.method]
    if args.batch:
        cmd.append("batch=%d" % args.batch)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    result = [line for line in out.stdout.splitlines() if line.startswith("RESULT")]
    if out.returncode != 0 or not result:
        sys.exit("model2table failed:\n" + out.stderr[-2000:])
    inner, rss_kb, _, cpu = result[0].split()[1:]
    return wall, float(inner), int(rss_kb) / 1024, float(cpu)


def ncnn_reference(method):
    """Median (wall s, CPU s) of the real ncnn2table runs recorded in timing.json, or None."""
    try:
        with open(os.path.join(LITE0, "timing.json")) as f:
            runs = json.load(f)["ncnn2table_lite0_100_images"][method]["runs"]
    except (OSError, KeyError, ValueError):
        return None
    walls = sorted(r["wall_s"] for r in runs)
    cpus = sorted(r["wall_s"] * r["cpu_percent"] / 100 for r in runs)
    return walls[len(walls) // 2], cpus[len(cpus) // 2]


def plain_pass_seconds(listfile, args):
    """Best of 3 plain fp32 passes of Lite0 over the images of `listfile` (decoded beforehand), in
    this process: the floor of each of calibration's two passes (kl/aciq parity needs both: the
    histogram range is the absmax over every image)."""
    sys.path.insert(0, REPO)
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
    from ncnnlike.runtime import Net
    graph = load_model(os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin"))
    options = dict(o.split("=", 1) for o in OPTS)
    batches = list(iter_batches(read_lists([listfile]), parse_preprocess(options, graph.input_names()),
                                args.batch or 4, args.thread))
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.openmp_blocktime = args.thread, 0
    output = graph.output_names()
    best = float("inf")
    for _ in range(4):
        start = time.perf_counter()
        for batch in batches:
            net.run(batch, output)
        best = min(best, time.perf_counter() - start)
    return best


def median_run(runs):
    """The run with the median process wall time."""
    return sorted(runs)[len(runs) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="kl")
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the 100-image job (median reported)")
    ap.add_argument("--batch", type=int, default=0, help="model2table batch= (0: its default)")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        l100 = list_file(tmp, ["calib.txt"], 100)
        l500 = list_file(tmp, ["calib.txt", "eval.txt"], 500)
        run(l100, args, tmp)  # warm the file cache
        runs = [run(l100, args, tmp) for _ in range(max(1, args.repeat))]
        wall100, inner100, rss100, cpu100 = median_run(runs)
        wall500, inner500, rss500, cpu500 = run(l500, args, tmp)
        floor = plain_pass_seconds(l100, args)
    load = max(load, os.getloadavg()[0])
    ref = ncnn_reference(args.method)
    print("model2table, EfficientNet-Lite0, thread=%d, method=%s%s; load average up to %.1f on %d CPUs"
          % (args.thread, args.method, ", batch=%d" % args.batch if args.batch else "", load, os.cpu_count() or 1))
    print()
    print("| images | wall s (process) | model2table s | CPU s | images/s | peak RSS MB |")
    print("|---|---|---|---|---|---|")
    print("| 100 | %.2f | %.2f | %.2f | %.1f | %.0f |" % (wall100, inner100, cpu100, 100 / inner100, rss100))
    print("| 500 | %.2f | %.2f | %.2f | %.1f | %.0f |" % (wall500, inner500, cpu500, 500 / inner500, rss500))
    print()
    print("100-image process wall times: %s" % ", ".join("%.2f" % r[0] for r in runs))
    if ref:
        print("real ncnn2table, same job (100 images, thread=2, %s): %.2f s wall, %.2f s CPU median, idle machine "
              "(shared/reference/lite0/timing.json)" % ((args.method,) + ref))
        print("ratio ours/ncnn, 100 images: wall %.2f, CPU %.2f  (target: wall <= 0.33)"
              % (wall100 / ref[0], cpu100 / ref[1]))
        print("floor: one plain fp32 pass over the 100 decoded images takes %.2f s here; the two passes "
              "calibration needs, %.2f s = %.2f of ncnn2table's wall" % (floor, 2 * floor, 2 * floor / ref[0]))
    print("peak memory growth 100 -> 500 images: %+.1f%%  (target < 20%%)" % (100 * (rss500 / rss100 - 1)))


if __name__ == "__main__":
    main()
