"""Benchmark model2table on EfficientNet-Lite0: wall time vs the real ncnn2table, and peak memory
for 100 vs 500 images. Prints one table; never fails a build.

    python tools/bench_table.py [--method kl] [--thread 2]

Each measurement runs model2table in a fresh process (so peak RSS is its own). The real
ncnn2table's wall time for the same job (100 images, thread=2, kl) is read from
../shared/reference/lite0/timing.json when present (2.80-2.89 s on this machine kind).
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
print("RESULT %.3f %d %d" % (time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code))
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


def run(listfile, method, thread, folder):
    table = os.path.join(folder, "out.table")
    cmd = [sys.executable, "-c", CHILD, os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin"),
           listfile, table, *OPTS, "thread=%d" % thread, "method=" + method]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    result = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
    if out.returncode != 0 or not result:
        sys.exit("model2table failed:\n" + out.stderr[-2000:])
    inner, rss_kb, _ = result[0].split()[1:]
    return wall, float(inner), int(rss_kb) / 1024


def ncnn_reference_seconds(method):
    """Median wall time of the real ncnn2table runs recorded in timing.json, or None."""
    try:
        with open(os.path.join(LITE0, "timing.json")) as f:
            runs = json.load(f)["ncnn2table_lite0_100_images"][method]["runs"]
    except (OSError, KeyError, ValueError):
        return None
    walls = sorted(r["wall_s"] for r in runs)
    return walls[len(walls) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="kl")
    ap.add_argument("--thread", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        l100 = list_file(tmp, ["calib.txt"], 100)
        l500 = list_file(tmp, ["calib.txt", "eval.txt"], 500)
        run(l100, args.method, args.thread, tmp)  # warm the file cache
        wall100, inner100, rss100 = run(l100, args.method, args.thread, tmp)
        wall500, inner500, rss500 = run(l500, args.method, args.thread, tmp)
    ref = ncnn_reference_seconds(args.method)
    print("| images | wall s (process) | model2table s | images/s | peak RSS MB |")
    print("|---|---|---|---|---|")
    print("| 100 | %.2f | %.2f | %.1f | %.0f |" % (wall100, inner100, 100 / inner100, rss100))
    print("| 500 | %.2f | %.2f | %.1f | %.0f |" % (wall500, inner500, 500 / inner500, rss500))
    print()
    if ref:
        print("real ncnn2table, same job (100 images, thread=2, %s): %.2f s median (shared/reference/lite0/timing.json)"
              % (args.method, ref))
        print("time ratio ours/ncnn (process wall, 100 images): %.2f  (target <= 0.33)" % (wall100 / ref))
    print("peak memory growth 100 -> 500 images: %+.1f%%  (target < 20%%)" % (100 * (rss500 / rss100 - 1)))


if __name__ == "__main__":
    main()
