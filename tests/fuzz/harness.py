"""Running one fuzz case the way an attacker's input would run: in a forked child with a memory
limit and a timeout, and classifying what happened.

Outcomes of a console script run (`run_cli`):
  ok         exit 0
  error      exit 2 with one `error: ...` line last on stderr (printable, <= 300 characters)
  traceback  a Python traceback, or our "internal error" line (an exception nobody foresaw)
  noise      failed as promised, but stderr holds a line that is not ours (libpng, numpy warnings)
  longline   the error line is not one printable line of at most 300 characters
  badexit    any other exit status
  signal     the child died of a signal (segfault, abort, the kernel's OOM killer)
  hang       no exit within the timeout
Only `ok` and `error` are acceptable. An `ok` run's outputs are then checked: a .param/.bin pair must
load in pip ncnn and run there on a random input of the declared shape (`ncnn_refuses`).
"""
import faulthandler
import hashlib
import io
import os
import resource
import signal
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field

import numpy as np

MEMORY_LIMIT = 4 << 30
TIMEOUT = 60.0
ACCEPTABLE = ("ok", "error")
OUR_LINE_PREFIXES = ("error: ", "warning: ")


@dataclass
class Outcome:
    kind: str
    code: int = 0
    stderr: str = ""
    seconds: float = 0.0
    details: list = field(default_factory=list)

    def summary(self):
        tail = self.stderr.strip().splitlines()[-3:]
        return "%s (exit %s, %.1f s): %s %s" % (self.kind, self.code, self.seconds, " | ".join(tail), self.details)


def _child(fn, args, out_fd, memory_limit, cwd):
    """In the forked child: limits, stdout/stderr to a file, the case folder as the working folder
    (a relative output name lands there), run, exit with fn's status."""
    code = 70
    try:
        if cwd is not None:
            os.chdir(cwd)
        faulthandler.disable()   # a crash is counted by the parent, not dumped into its log
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True,
                                      errors="backslashreplace")
        code = fn(*args)
        code = 0 if code is None else int(code)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:   # noqa: BLE001  (a traceback is a finding: print it, exit 71)
        import traceback
        traceback.print_exc()
        code = 71
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_forked(fn, *args, timeout=TIMEOUT, memory_limit=MEMORY_LIMIT, cwd=None):
    """(exit code or -signal or None for a hang, combined stdout+stderr text, seconds) of fn(*args)
    in a forked child working in `cwd`."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(fn, args, out.fileno(), memory_limit, cwd)
        status = None
        while time.monotonic() - start < timeout:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.005)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = None
        seconds = time.monotonic() - start
        out.seek(0)
        text = out.read().decode("utf-8", "backslashreplace")
    if status is None:
        return None, text, seconds
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status), text, seconds
    return os.WEXITSTATUS(status), text, seconds


def _cli_entry(main, argv):
    return main(list(argv))


def classify(code, text, verbose=False):
    """The outcome kind of a console script run (module docstring); --verbose may lengthen the line."""
    if code is None:
        return "hang"
    if code < 0:
        return "signal"
    if "Traceback (most recent call last)" in text or "internal error" in text:
        return "traceback"
    lines = [line for line in text.replace("\r", "\n").split("\n") if line.strip()]  # as a terminal shows it
    if code == 0:
        return "noise" if any(_noise(line) for line in lines) else "ok"
    if code != 2:
        return "badexit"
    last = lines[-1] if lines else ""
    if not last.startswith("error: ") or (len(last) > 300 and not verbose) or not last.isprintable():
        return "longline"
    if any(_noise(line) for line in lines):
        return "noise"
    return "error"


NOISE_WORDS = ("RuntimeWarning", "libpng", "JPEG", "[ WARN", "[ERROR", "Warning:", "warnings.warn", "onnxruntime")


def _noise(line):
    """A stderr line that is not ours: a library's own message."""
    if line.startswith(OUR_LINE_PREFIXES):
        return False
    return any(word in line for word in NOISE_WORDS)


def run_cli(main, argv, timeout=TIMEOUT, cwd=None):
    """Outcome of console script `main` on argv, in a forked child working in `cwd`."""
    code, text, seconds = run_forked(_cli_entry, main, argv, timeout=timeout, cwd=cwd)
    return Outcome(classify(code, text, "--verbose" in argv), code if code is not None else -999, text, seconds)


# ---------------------------------------------------------------- the pip ncnn oracle

def _ncnn_check(param, binfile, inputs):
    """Child: pip ncnn loads the pair and runs it on random inputs; exit 0 / 3 load_param / 4
    load_model / 5 extract failed."""
    import ncnn
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    net = ncnn.Net()
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_fp16_packed = False
    net.opt.num_threads = 1
    if net.load_param(param) != 0:
        return 3
    if net.load_model(binfile) != 0:
        return 4
    if not inputs:
        return 0
    ex = net.create_extractor()
    rng = np.random.default_rng(0)
    for name, shape in inputs.items():
        ex.input(name, ncnn.Mat(rng.standard_normal(shape).astype(np.float32)).clone())
    for name in net.output_names():
        ret, _ = ex.extract(name)
        if ret != 0:
            return 5
    return 0


NCNN_REFUSALS = {3: "load_param", 4: "load_model", 5: "extract"}


def declared_inputs(param):
    """Input blob -> numpy shape from the Input layers' params, or {} when any Input has no shape
    (pip ncnn then cannot be run without guessing)."""
    from ncnnlike.io.param import read_param
    from ncnnlike.layers import input as input_layer
    from ncnnlike.layers.base import resolve
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = read_param(param)
    shapes = {}
    for layer in graph.layers:
        if layer.type == "Input":
            shape = input_layer.shape(resolve(layer))
            if shape is None or int(np.prod(shape)) > 1 << 22:
                return {}
            shapes[layer.tops[0]] = shape
    return shapes


ORACLE_FORWARD_BYTES = 1 << 30   # the blobs of one forward, summed: more does not fit the oracle's memory


def forward_fits(param, binfile, inputs):
    """Whether pip ncnn's forward of the model fits in the oracle child's memory limit, by the sum
    of the blob sizes our lowering computes (an upper bound of ncnn's need in lightmode). A model
    that needs 80 GB for an attention is not refused by ncnn, it needs a bigger machine."""
    import warnings
    from ncnnlike.io.model import load_model
    from ncnnlike.runtime.lower import lower_shapes
    from ncnnlike.runtime.staged import is_host
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = load_model(param, binfile)
        wanted = [b for layer in graph.layers if is_host(layer) for b in layer.bottoms] + graph.output_names()
        downstream = set()
        for layer in graph.layers:
            if is_host(layer) or downstream.intersection(layer.bottoms):
                downstream.update(layer.tops)
        ctx = lower_shapes(graph, inputs, [b for b in dict.fromkeys(wanted) if b not in downstream])
        total = sum(int(np.prod(ctx.shape(b), dtype=np.float64)) * 4 for b in ctx.blobs())
    except Exception:   # noqa: BLE001  (cannot tell: let ncnn try)
        return True
    return total <= ORACLE_FORWARD_BYTES


def ncnn_refuses(param, binfile, timeout=TIMEOUT):
    """None when pip ncnn loads the pair and runs it; else what failed (load_param, load_model,
    extract, signal N, hang). The forward is skipped for models too large for the oracle's memory."""
    try:
        inputs = declared_inputs(param)
    except Exception as exc:   # noqa: BLE001  (our own reader refusing our own output is a finding)
        return "our reader: %s" % exc
    if inputs and not forward_fits(param, binfile, inputs):
        inputs = {}
    code, _, _ = run_forked(_ncnn_check, param, binfile, inputs, timeout=timeout)
    if code == 0:
        return None
    if code is None:
        return "hang"
    if code < 0:
        return "signal %d" % -code
    return NCNN_REFUSALS.get(code, "exit %d" % code)


# ---------------------------------------------------------------- file-state checks

def fingerprint(paths):
    """path -> sha256 of its bytes (None when absent), to prove inputs are left untouched."""
    out = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                out[path] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            out[path] = None
    return out


def stat_fingerprint(paths):
    """path -> (inode, size, mtime) or None: cheap proof that large seed files were not rewritten
    (a write changes the mtime, a rename-over changes the inode)."""
    out = {}
    for path in paths:
        try:
            st = os.lstat(path)
            out[path] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:
            out[path] = None
    return out


def leftover_temps(folder):
    """Temporary files our atomic writer left in `folder` (there must be none after any exit)."""
    return sorted(name for name in os.listdir(folder) if name.startswith(".") and name.endswith(".tmp"))


def quiet_call(fn, *args):
    """fn(*args) with stdout and stderr swallowed (helpers that print)."""
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return fn(*args)


def ncnn_refuses_param(param, binfile, timeout=TIMEOUT):
    """None when pip ncnn loads the pair (no forward: for files our reader refuses, whose inputs we
    cannot read); else what failed."""
    code, _, _ = run_forked(_ncnn_check, param, binfile, {}, timeout=timeout)
    if code == 0:
        return None
    if code is None:
        return "hang"
    return "signal %d" % -code if code < 0 else NCNN_REFUSALS.get(code, "exit %d" % code)
