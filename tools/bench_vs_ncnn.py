"""Our console scripts vs the real ncnn tools (../shared/ncnn-tools), side by side: the same jobs on
the same files, interleaved, N rounds; wall, CPU (user + system) and peak RSS of each process,
min / median / max, and the ratios ours / ncnn of the medians. Prints one table; never fails a build.

    python tools/bench_vs_ncnn.py [--rounds 3] [--thread 2] [--jobs optimize,int8,kl,aciq,kl500,aciq500,eq]
                                  [--big vgg16] [--clean]

Jobs (EfficientNet-Lite0, ../shared/reference/lite0/lite0-opt):
  optimize   model-optimize  vs ncnnoptimize   (flag 0)              target wall <= 2x
  int8       model2int8      vs ncnn2int8      (the real kl table)   target wall <= 2x
  kl, aciq   model2table     vs ncnn2table     (100 PNG calibration images, thread=N; the tables
             must be byte-identical: both tools read PNG alike)  target wall and CPU <= 0.8x, peak RSS <= 2x
  kl500, aciq500  the same on 500 JPEG images (calib + eval; the JPEG decoders differ, so do the tables)
  eq         model2table method=eq vs ncnn2table method=kl (ncnn's eq segfaults)   target wall <= 3x
  --big NAME model-optimize and model2int8 vs ncnnoptimize and ncnn2int8 on an ncnn benchmark network
             with seeded random weights (tools/suite_parity.make_pair; its table made once by model2table
             on one random npy input, untimed)
Our side runs each console script's entry point in a fresh `python -c` (what the installed script
runs, without a launcher such as a pyenv shim in front), with its bytecode cached as an installed
package has it (PYTHONPYCACHEPREFIX in a temporary folder, even where PYTHONDONTWRITEBYTECODE is
set; the first round writes it). Tables are compared with ncnn's `inf` weight scales (all-zero
channels) read as our 1.0, line by line. The ncnn side runs with
OMP_WAIT_POLICY=passive: its idle OpenMP threads would otherwise spin on the cores the next process
needs. A row `python + numpy` gives the floor of any Python tool: the interpreter and `import numpy`.
The machine may be shared: the load average is printed before and after; compare ratios within a run.
With --clean, our side runs from a regular install of this checkout in a fresh venv
(tools/clean_install.py), as a user's `pip install` gives it: this development environment's python
runs two site-packages .pth hooks at every start (the editable-install finder, ~15 ms, and a
certifi patch of the sandbox, ~13 ms) that a user's does not.

Where calibration stands and why (Lite0, 2 cores; CPU ms per image). Both passes reduce each blob
inside the graph that made it, by ops of ours (quant/probes.py: Extrema for pass 1's min and max,
Histogram for pass 2's bins), in onnxruntime's own saved optimized model, each blob still in its
blocked NCHWc layout (runtime/reloaded.py, runtime/reorders.py): one run of pass 2 took 14.3 ms of
CPU against 17.0 taking the 50 blobs out and binning them in Python (6.8 M values, ~0.8-1.06 ns
each in the compiled kernel; numpy and OpenCV's 8-bit histogram, the path of installs without a C
compiler, took 15-24), Extrema 18 us on 200K values against ReduceMin + ReduceMax's 38; A/B in one
run (`python tools/bench_calib_ops.py`: ours with NCNNLIKE_CALIB_OPS=1 and 0, interleaved): aciq on 500
images 8-9% less wall and 10% less CPU, kl on 100 3-10% in two runs, on 500 11.5% with the histogram
op alone. Decoding a 256x341 PNG 2.0-2.2 and resizing it
0.4 (ncnn's bilinear compiled, quant/_resize.c; 0.7-1.5 in numpy), once: kept for pass 2; fixed
costs ~0.3 s of imports, ~0.3 s for the two sessions, ~0.15 s of CPU (0.08-0.1 s of wall) for the
KL searches (their estimates compiled, quant/methods/_klest.c; 0.47 s of CPU and 0.29-0.38 of wall
in numpy). Engines measured instead (`python tools/calib_engines.py`, 1 thread, random inputs): the
network output alone 10.6-11.8 in onnxruntime, 12.1-12.9 in pip ncnn, 10.1-12.1 in OpenVINO 2026.4
(a registry wheel, not a dependency); pass 1 11.5 in ours, 24.6 in pip ncnn (extract the 50 blobs,
reduce them), 13.2-19.3 in OpenVINO; the 50 blobs out 12.6 in ours, 16.8-24.0 in OpenVINO. A
kernel numba compiles (a registry wheel) bins as fast, but importing numba and loading the kernel
costs a fresh process 0.5 s of CPU even from its cache, and ~100 MB of peak RSS; the C kernel,
built once at install, costs neither. So aciq cannot reach 0.8x of ncnn2table on 100 images: per
image, decoding and resizing (2.4-2.6 PNG) and the network alone in the fastest engine (10.1)
already take 12.5-12.7 ms, at or above the budget (0.8 x ncnn2table's 1.87-2.09 s of CPU, less our
~0.45 s of imports and session: 10.5-12.2 ms an image); and in wall, ~0.35 s of start-up and
session build on about one core plus 100 x 12.5 ms on two cores already exceed 0.8 x its 0.96-1.12
s. No engine would do much better: the conv layers' 385 M multiply-adds alone take 8.7-9.1 ms at
onnxruntime's one-thread fp32 MatMul peak (42-45 GMAC/s at 2048^3; 7.4 ms at OpenBLAS's 52;
`python tools/calib_engines.py` prints it), the engines measured run the whole network at 72-90%
of that, and even at 100% the wall would be ~0.3 s of start-up (imports 0.10-0.14 s, the session
0.2 s) + 100 x (2.4 + 8.7) ms / 2 cores = 0.86 s, against a budget of 0.79 s in this session's
runs (ncnn2table 0.98 s). On 500 JPEG (decoding 1.5-2.0 ms, resizing 0.8 in a real run) aciq stands at 0.75-0.81x wall
and 0.71-0.77x CPU with the Extrema op (four runs of the last session; 0.85-0.92x / 0.81-0.88x
without): the CPU target met, the wall one at its line, where our runs keep the two cores busy on
average 1.83-1.85 of 2 (ncnn2table 1.94-1.97: our start-up, ~0.25-0.35 s, runs on about one core).
kl meets 0.8x on 500 images (0.61-0.71x) and on 100 in CPU (0.63-0.75x); its wall on 100 was
0.71-0.85x in the three runs of one session (0.85x at load 1.9) and 0.70-0.79x in the two of the
next, the same code (aciq on 100 then 1.11-1.15x wall, 0.95-0.98x CPU; on 500 0.78x / 0.73x).
Peak RSS: the imports (numpy, OpenCV, onnxruntime) ~66 MB, onnxruntime's code once run ~20, the
graph's weights 19, a reloaded session ~15 MB of heap (building one takes ~45 MB for a moment:
onnxruntime's optimizing session and its saved model), and per concurrent run onnxruntime's
activations (in pass 2 without our histogram op, also the blobs of one segment: quant/segments.py,
Lite0 in three, at most 10 MB of its 27 an image); the decoded images kept for pass 2 are in a temporary file
(quant/input_cache.py), not in memory; one glibc arena for all threads (runtime/heap.py). kl's
peak is now a session build or pass 2 (164-166 MB on 100 images, 187-193 on 500), against
ncnn2table's 92-117; before the segments and the file, pass 2's two workers held 27 MB of blobs
each and the images 15-32 MB: 204-250 MB. One pass-2 worker instead of two: 22 MB less and 1.1 s
more wall (measured before the segments).
model-optimize: a Python process that only reads the .param and .bin, proves no weight needs
ModelWriter's flush and writes them back is 1.14x ncnnoptimize's wall as a user's install starts it
(`python tools/startup_floor.py --clean`; 1.3x when the flush proof was pure Python: it is now one
compiled pass, io/_flush.c, ~1 ms for Lite0's 4.6 M weights against ~19); ours is 1.53x there and
1.60x in this bench (15 rounds, --clean), against 1.95x with the Python proof in the same
conditions an hour before (medians move by 10-20% between runs on this machine).
method=eq (tools/eq_bound.py): 3.7-3.9 T multiply-adds for Lite0;
onnxruntime's u8s8 VNNI GEMMs at Lite0's own shapes alone take >= 21.7 s, above the 3x budget.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.common import LITE0, SAMPLE, SHARED, machine_header  # noqa: E402

TOOLS = os.path.join(SHARED, "ncnn-tools")
CALIB_OPTIONS = ["mean=[127,127,127]", "norm=[0.0078125,0.0078125,0.0078125]", "shape=[224,224,3]", "pixel=RGB"]
PYTHON = [sys.executable]       # the interpreter running our side (--clean: a fresh venv's)
ALL_JOBS = ("optimize", "int8", "kl", "aciq", "kl500", "aciq500", "eq")
DEFAULT_JOBS = ("optimize", "int8", "kl", "aciq", "kl500", "aciq500", "eq")


def entry_points():
    """ncnnlike.cli module name -> the function its console script calls (setup.cfg's entry points)."""
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, "setup.cfg"))
    table = {}
    for line in cfg["options.entry_points"]["console_scripts"].split("\n"):
        if "=" in line:
            module, function = line.split("=", 1)[1].strip().split(":")
            table[module.rsplit(".", 1)[1]] = function
    return table


def console_script(module, python=None):
    """argv prefix running ncnnlike.cli.<module> as its installed console script does (the function
    setup.cfg names, e.g. model_optimize's console_main)."""
    code = "import sys; from ncnnlike.cli.%s import %s as entry; sys.exit(entry())" % (module, entry_points()[module])
    return [python or PYTHON[0], "-c", code]


def load_average():
    return "%.2f %.2f %.2f" % os.getloadavg()


GNU_TIME = "/usr/bin/time"


def measure(cmd, env=None, cwd=None):
    """(wall s, CPU s, peak RSS MB, exit status, stderr tail) of one process. Through GNU time when
    there is one, for the peak RSS only: a child forked from this (large) process would count its
    pages in ru_maxrss. Wall (perf_counter) and CPU (wait4: the process and GNU time around it, ~1 ms)
    are measured here: GNU time prints them in 10 ms steps, a fifth of ncnnoptimize's run."""
    with tempfile.TemporaryDirectory() as scratch:
        report = os.path.join(scratch, "time.txt")
        timed = [GNU_TIME, "-q", "-o", report, "-f", "%e %U %S %M"] + cmd if os.path.exists(GNU_TIME) else cmd
        with open(os.path.join(scratch, "err"), "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(timed, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            tail = err.read()[-400:].decode("utf-8", "replace")
        cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        if timed is not cmd and os.path.exists(report):
            with open(report) as f:
                fields = f.read().split()[-4:]
            rss = int(fields[3]) / 1024
    return wall, cpu, rss, proc.returncode, tail


def list_file(folder, name, lines):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def image_lists(folder):
    """(100 PNG paths list file, 500 JPEG paths list file), absolute paths."""
    def read(name, sub=""):
        with open(os.path.join(SAMPLE, name)) as f:
            return [os.path.join(SAMPLE, sub, line.split()[0]) for line in f if line.strip()]
    png = read("calib-png.txt")
    jpeg = read("calib.txt") + read("eval.txt")
    return list_file(folder, "png100.txt", png[:100]), list_file(folder, "jpeg500.txt", jpeg[:500])


class Job:
    """One comparison: our command, ncnn's command, their output files, and the targets."""

    def __init__(self, name, ours, theirs, targets, outputs=None, note=""):
        self.name, self.ours, self.theirs, self.targets = name, ours, theirs, targets
        self.outputs = outputs        # (our file, ncnn's file) compared byte for byte, or None
        self.note = note
        self.samples = {"ours": [], "ncnn": []}
        self.same = []
        self.failed = None            # (side, status, stderr tail) of a run that failed


def lite0_jobs(names, folder, threads):
    """The Lite0 jobs by name (see the module docstring)."""
    param, binfile = os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin")
    out = lambda name: os.path.join(folder, name)
    png100, jpeg500 = image_lists(folder)
    jobs = []
    for name in names:
        if name == "optimize":
            jobs.append(Job(name, console_script("model_optimize") + [param, binfile, out("o.param"), out("o.bin"), "0"],
                            [os.path.join(TOOLS, "ncnnoptimize"), param, binfile, out("n.param"), out("n.bin"), "0"],
                            {"wall": 2.0}, (out("o.bin"), out("n.bin"))))
        elif name == "int8":
            table = os.path.join(LITE0, "lite0-kl.table")
            jobs.append(Job(name, console_script("model2int8") + [param, binfile, out("i.param"), out("i.bin"), table],
                            [os.path.join(TOOLS, "ncnn2int8"), param, binfile, out("ni.param"), out("ni.bin"), table],
                            {"wall": 2.0}, (out("i.param"), out("ni.param"))))
        elif name in ("kl", "aciq", "kl500", "aciq500", "eq"):
            method = name.replace("500", "")
            images = jpeg500 if name.endswith("500") else png100
            options = CALIB_OPTIONS + ["thread=%d" % threads]
            ours = console_script("model2table") + [param, binfile, images, out(name + ".table")] + options
            theirs = [os.path.join(TOOLS, "ncnn2table"), param, binfile, images, out(name + "-ncnn.table")] + options
            if name == "eq":
                jobs.append(Job(name, ours + ["method=eq"], theirs + ["method=kl"], {"wall": 3.0}, None,
                                "ncnn: method=kl (its eq segfaults)"))
            else:
                same = None if name.endswith("500") else (out(name + ".table"), out(name + "-ncnn.table"))
                jobs.append(Job(name, ours + ["method=" + method], theirs + ["method=" + method],
                                {"wall": 0.8, "cpu": 0.8, "rss": 2.0}, same,
                                "100 PNG" if not name.endswith("500") else "500 JPEG"))
    return jobs


def big_jobs(name, folder, threads):
    """model-optimize / model2int8 on an ncnn benchmark network with random weights."""
    from tools.suite_parity import make_pair
    param, binfile, graph = make_pair(name, folder)
    shape = tuple(graph.layers[0].params.get(k, 0) for k in (2, 1, 0))    # Input c, h, w
    sample = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    npy = os.path.join(folder, name + "-calib.npy")
    np.save(npy, sample)
    table = os.path.join(folder, name + ".table")
    subprocess.run(console_script("model2table") + [param, binfile, list_file(folder, name + ".txt", [npy]), table,
                                                    "shape=[%d,%d,%d]" % shape[::-1], "type=1", "thread=%d" % threads],
                   check=True, capture_output=True)
    out = lambda f: os.path.join(folder, name + "-" + f)
    return [Job(name + " optimize", console_script("model_optimize") + [param, binfile, out("o.param"), out("o.bin"), "0"],
                [os.path.join(TOOLS, "ncnnoptimize"), param, binfile, out("n.param"), out("n.bin"), "0"],
                {"wall": 2.0}, None, "random weights"),
            Job(name + " int8", console_script("model2int8") + [param, binfile, out("i.param"), out("i.bin"), table],
                [os.path.join(TOOLS, "ncnn2int8"), param, binfile, out("ni.param"), out("ni.bin"), table],
                {"wall": 2.0}, None, "random weights")]


def differing_lines(ours, theirs):
    """(lines that differ, lines, largest relative difference of the numbers on those lines) between
    two files; in tables, ncnn's inf (all-zero channel) counts as 1.000000."""
    with open(ours, "rb") as f, open(theirs, "rb") as g:
        a = f.read().split(b"\n")
        b = [re.sub(rb"(?<= )inf(?= |$)", b"1.000000", line) for line in g.read().split(b"\n")]
    differ = [(x, y) for x, y in zip(a, b) if x != y]
    return len(differ) + abs(len(a) - len(b)), len(b), max([_relative(x, y) for x, y in differ], default=0.0)


def _relative(x, y):
    """Largest relative difference between the numbers of two table lines (inf if they do not pair up)."""
    xs, ys = x.split()[1:], y.split()[1:]
    try:
        pairs = [(float(p), float(q)) for p, q in zip(xs, ys)]
    except ValueError:
        return float("inf")
    if len(xs) != len(ys):
        return float("inf")
    return max((abs(p - q) / max(abs(p), abs(q), 1e-30) for p, q in pairs), default=0.0)


def run_rounds(jobs, rounds, floor, folder, clean=False):
    """Every job's two sides, `rounds` times, in alternating order; the numpy floor every round. Ours
    run in `folder` (not the checkout: `python -c` puts the working folder first on sys.path)."""
    ncnn_env = dict(os.environ, OMP_WAIT_POLICY="passive")
    our_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if not clean:     # the clean install has its bytecode beside its sources
        our_env["PYTHONPYCACHEPREFIX"] = os.path.join(folder, "pycache")
    for r in range(rounds):
        for job in jobs:
            if job.failed:
                continue
            sides = [("ours", job.ours, our_env), ("ncnn", job.theirs, ncnn_env)]
            for side, cmd, env in (sides if r % 2 == 0 else sides[::-1]):
                wall, cpu, rss, code, tail = measure(cmd, env, cwd=folder)
                if code != 0:      # reported in the table; the other jobs go on
                    job.failed = (side, code, tail)
                    sys.stderr.write("%s (%s) failed with status %d:\n%s\n" % (job.name, side, code, tail))
                    break
                job.samples[side].append((wall, cpu, rss))
            if job.outputs and not job.failed:
                job.same.append(differing_lines(*job.outputs))
        floor.append(measure([PYTHON[0], "-c", "import numpy"], our_env, cwd=folder)[:3])


def stats(samples, k):
    values = np.array([s[k] for s in samples])
    return values.min(), np.median(values), values.max()


def print_table(jobs, floor):
    print("| job | side | wall s min / med / max | CPU s min / med / max | peak RSS MB min / med / max "
          "| ours/ncnn wall | CPU | RSS | targets | output |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for job in jobs:
        if job.failed:
            side, code, tail = job.failed
            print("| %s | %s | failed with status %d: %s | | | | | | | |"
                  % (job.name, side, code, " ".join(tail.split())[-120:].replace("|", "/")))
            continue
        medians = {}
        for side in ("ours", "ncnn"):
            cells = [stats(job.samples[side], k) for k in range(3)]
            medians[side] = [c[1] for c in cells]
            fmt = lambda c, f: " / ".join(f % v for v in c)
            ratios = [medians["ours"][k] / medians["ncnn"][k] for k in range(3)] if side == "ncnn" else None
            verdict = ""
            if ratios:
                checks = ["%s <= %.1fx %s" % (what, limit, "PASS" if ratios[("wall", "cpu", "rss").index(what)] <= limit
                                              else "FAIL") for what, limit in job.targets.items()]
                verdict = ", ".join(checks)
            same = ""
            if side == "ncnn" and job.outputs:
                worst, lines, rel = max(job.same)
                same = "identical" if worst == 0 else "%d of %d lines differ (by up to %.1e)" % (worst, lines, rel)
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                job.name + (" (%s)" % job.note if job.note and side == "ours" else ""), side,
                fmt(cells[0], "%.3f"), fmt(cells[1], "%.3f"), fmt(cells[2], "%.0f"),
                "%.2fx" % ratios[0] if ratios else "", "%.2fx" % ratios[1] if ratios else "",
                "%.2fx" % ratios[2] if ratios else "", verdict, same))
    cells = [stats(floor, k) for k in range(3)]
    print("| python + numpy | floor | %s | %s | %s | | | | | |" % tuple(" / ".join(f % v for v in c) for c, f in
                                                                    zip(cells, ("%.3f", "%.3f", "%.0f"))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--jobs", default=",".join(DEFAULT_JOBS), help="comma-separated: " + ",".join(ALL_JOBS))
    ap.add_argument("--big", default="", help="also an ncnn benchmark network with random weights, e.g. vgg16")
    ap.add_argument("--clean", action="store_true",
                    help="run ours from a regular install in a fresh venv (tools/clean_install.py), without "
                         "this environment's site-packages .pth hooks")
    args = ap.parse_args()
    names = [n for n in args.jobs.split(",") if n]
    unknown = set(names) - set(ALL_JOBS)
    if unknown:
        sys.exit("unknown job(s): %s (expected %s)" % (", ".join(sorted(unknown)), ", ".join(ALL_JOBS)))
    with tempfile.TemporaryDirectory() as folder:
        if args.clean:
            from tools.clean_install import clean_python
            PYTHON[0] = clean_python(folder)
        jobs = lite0_jobs(names, folder, args.thread)
        if args.big:
            jobs += big_jobs(args.big, folder, args.thread)
        before, floor = load_average(), []
        run_rounds(jobs, max(1, args.rounds), floor, folder, args.clean)
        after = load_average()
    print("Our CLIs vs the real ncnn tools, %d interleaved rounds; load average before %s, after %s"
          % (max(1, args.rounds), before, after))
    print("ours: %s" % ("a regular install in a fresh venv (--clean: no site-packages .pth hooks)" if args.clean
                        else "this environment's python (site-packages .pth hooks included)"))
    for line in machine_header(args.thread):
        print(line)
    print()
    print_table(jobs, floor)


if __name__ == "__main__":
    main()
