"""Our model2table with and without calibration's in-graph ops (ncnnlike/quant/probes.py: Extrema in
pass 1, Histogram in pass 2; NCNNLIKE_CALIB_OPS=0 runs the paths of an install without a C
compiler), side by side on Lite0: the same command, interleaved, N rounds; medians of each run's
wall and CPU (user + system of the process), and the ratios with / without. Prints one table;
never fails a build.

    python tools/bench_calib_ops.py [--method kl] [--images png100|jpeg500] [--rounds 6] [--thread 2]

png100: the first 100 PNG calibration images; jpeg500: 500 JPEG (calib + eval), as
tools/bench_vs_ncnn.py. Both variants write the same table (checked after every round).
"""
import argparse
import os
import statistics
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools import bench_vs_ncnn, common  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--method", default="kl")
    ap.add_argument("--images", default="png100", choices=("png100", "jpeg500"))
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--thread", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        png100, jpeg500 = bench_vs_ncnn.image_lists(folder)
        images = png100 if args.images == "png100" else jpeg500
        param, binfile = (os.path.join(common.LITE0, "lite0-opt." + ext) for ext in ("param", "bin"))
        tables = {flag: os.path.join(folder, "t%s.table" % flag) for flag in "10"}
        options = bench_vs_ncnn.CALIB_OPTIONS + ["thread=%d" % args.thread, "method=" + args.method]
        print("\n".join(common.machine_header(str(args.thread))))
        samples = {"1": [], "0": []}
        for _ in range(args.rounds):
            for flag in "10":
                cmd = [sys.executable, "-m", "ncnnlike.cli.model2table", param, binfile, images, tables[flag]] + options
                wall, cpu, _, status, tail = bench_vs_ncnn.measure(cmd, dict(os.environ, NCNNLIKE_CALIB_OPS=flag))
                if status:
                    sys.exit("model2table failed (exit %d): %s" % (status, tail))
                samples[flag].append((wall, cpu))
            with open(tables["1"], "rb") as a, open(tables["0"], "rb") as b:
                same = a.read() == b.read()
            if not same:
                print("the two tables differ")
        med = {flag: [statistics.median(s[k] for s in samples[flag]) for k in (0, 1)] for flag in "10"}
        print("\n| %s %s, %d rounds | wall s | CPU s |\n|---|---|---|" % (args.method, args.images, args.rounds))
        for flag, name in (("1", "with the ops"), ("0", "without (NCNNLIKE_CALIB_OPS=0)")):
            print("| %s | %.3f | %.3f |" % (name, *med[flag]))
        print("| with / without | %.3fx | %.3fx |" % (med["1"][0] / med["0"][0], med["1"][1] / med["0"][1]))
        print("load average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
