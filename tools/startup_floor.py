"""The floor of any Python model-optimize on Lite0, against ncnnoptimize, interleaved.

    python tools/startup_floor.py [--rounds 15] [--clean]

Rows (median wall of fresh processes, and the ratio to ncnnoptimize's):
  python          the interpreter starting and exiting (site's .pth files included)
  file work       a Python process that does only what any model-optimize must: read the .param and
                  the .bin, prove that no weight needs ModelWriter's flush of 0 < |v| < 1e-30
                  (io/stored.needs_flush, no numpy), write both and rename them into place
  model-optimize  ours (flag 0), as bench_vs_ncnn.py runs it
  ncnnoptimize    the real tool
The issue's target is model-optimize within 2x ncnnoptimize's wall; when `file work` alone is
above 2x, no Python implementation can meet it on this machine.
--clean runs the Python rows as a user's install would (bench_vs_ncnn.py --clean): without this
environment's site-packages .pth hooks, which cost ~30 ms of every start.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.bench_vs_ncnn import console_script  # noqa: E402
from tools.common import LITE0, SHARED, machine_header  # noqa: E402

FILE_WORK = """
import os, sys
from ncnnlike.io.stored import needs_flush
src, out = sys.argv[1], sys.argv[2]
with open(src + ".param", "rb") as f:
    text = f.read()
with open(src + ".bin", "rb") as f:
    data = bytearray(os.fstat(f.fileno()).st_size)
    f.readinto(data)
assert needs_flush(data, 0, len(data)) is False
for suffix, payload in ((".param", text), (".bin", data)):
    with open(out + suffix + ".tmp", "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(out + suffix + ".tmp", out + suffix)
"""


def commands(folder, python=sys.executable):
    src = os.path.join(LITE0, "lite0-opt")
    return {
        "python": [python, "-c", "pass"],
        "file work": [python, "-c", FILE_WORK, src, os.path.join(folder, "f")],
        "model-optimize": console_script("model_optimize", python) + [src + ".param", src + ".bin",
                           os.path.join(folder, "o.param"), os.path.join(folder, "o.bin"), "0"],
        "ncnnoptimize": [os.path.join(SHARED, "ncnn-tools", "ncnnoptimize"), src + ".param", src + ".bin",
                         os.path.join(folder, "n.param"), os.path.join(folder, "n.bin"), "0"],
    }


def wall(cmd, folder, clean):
    """Wall seconds of one run in `folder` (`python -c` puts the working folder first on sys.path),
    with bytecode cached as an install has it (bench_vs_ncnn.run_rounds)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if not clean:
        env["PYTHONPYCACHEPREFIX"] = os.path.join(folder, "pycache")
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=folder, env=env)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--clean", action="store_true",
                    help="run the Python rows from a regular install in a fresh venv (tools/clean_install.py)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.clean:
            from tools.clean_install import clean_python
            cmds = commands(folder, clean_python(folder))
        else:
            cmds = commands(folder)
        times = {name: [] for name in cmds}
        for r in range(args.rounds + 1):                     # round 0 warms the caches, not counted
            for name in (list(cmds) if r % 2 else list(cmds)[::-1]):
                t = wall(cmds[name], folder, args.clean)
                if r:
                    times[name].append(t)
    for line in machine_header("1"):
        print(line)
    base = statistics.median(times["ncnnoptimize"])
    print("\n| run | median wall ms | / ncnnoptimize |\n|---|---|---|")
    for name, samples in times.items():
        print("| %s | %.1f | %.2fx |" % (name, 1e3 * statistics.median(samples), statistics.median(samples) / base))


if __name__ == "__main__":
    main()
