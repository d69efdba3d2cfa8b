"""What every console script shares: every failure as one line + exit 2, key=value args, numbers.

The one-line promise (DESIGN principle 5): whatever goes wrong, stderr gets one printable,
escaped, UTF-8 line of at most MAX_LINE characters and the exit status is 2; no traceback and no
library noise (numpy RuntimeWarnings; libjpeg/libpng lines are kept away by quant/decode.py).
`--verbose` anywhere in the arguments keeps the whole message, shows other libraries' warnings and
the traceback of an unexpected exception. SIGTERM and SIGHUP unwind like Ctrl-C, so temporary
files are removed on every exit Python sees.
"""
import contextlib
import signal
import sys
import warnings

from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning, printable
from ncnnlike.io.limits import check_threads
from ncnnlike.io.numbers import ascii_float, ascii_int

EXIT_BAD_INPUT = 2
MAX_LINE = 300
VERBOSE_FLAG = "--verbose"
INTERNAL = "internal error"    # the prefix of an exception we did not foresee (a bug: please report)


def one_line(text, verbose=False):
    """`text` escaped to one printable line, shortened in the middle to MAX_LINE characters."""
    text = printable(text)
    if verbose or len(text) <= MAX_LINE:
        return text
    half = (MAX_LINE - 5) // 2
    return text[:half] + " ... " + text[-half:]


def write_line(prefix, text, verbose=False):
    """One `prefix: text` line on stderr, encodable whatever stderr's encoding is."""
    line = one_line("%s: %s" % (prefix, text), verbose) + "\n"
    stream = sys.stderr
    with _closed_stream_ok():
        if stream.isatty():   # a progress bar may hold the line: start it afresh
            line = "\r\x1b[K" + line
        try:
            stream.write(line)
        except UnicodeEncodeError:
            stream.write(line.encode("ascii", "backslashreplace").decode("ascii"))
        stream.flush()


def _closed_stream_ok():
    """Ignore a closed stderr (`... 2>&1 | head -1`): there is nobody left to tell."""
    return contextlib.suppress(BrokenPipeError, ValueError)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (BaseException, so that no `except Exception` stops it)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


@contextlib.contextmanager
def _unwinding_signals():
    """SIGTERM / SIGHUP raise Terminated while the tool runs, so `finally` blocks (temp file
    removal) run; the previous handlers come back afterwards."""
    old = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            old[sig] = signal.signal(sig, _terminate)
        except (ValueError, OSError):   # not the main thread: leave the default
            pass
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def one_blas_thread(argv=()):
    """Ask numpy's OpenBLAS for one thread, unless the user set OPENBLAS_NUM_THREADS or numpy is
    already imported (then nothing changes). OpenBLAS starts a thread per core at numpy's import
    and they spin: numpy's import took 135-152 ms of CPU instead of 54-78 (measured), a tenth of
    model2table aciq's fixed cost. The calibration and conversion tools multiply no big matrices
    with numpy (their work runs in onnxruntime, on their own thread= workers), except the weight
    rounding of correct=round, which keeps OpenBLAS's threads (`argv`: the tool's arguments)."""
    import os
    if "numpy" not in sys.modules and not any(str(arg).startswith("correct=") for arg in argv):
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def exit_at_once(code):
    """End a console script with `code` without the interpreter's finalization (module teardown and
    garbage collection: ~6 ms of model-optimize's ~100): for scripts whose outputs are closed and
    synced when their main returns and that start no threads or atexit work of their own."""
    import os
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code if isinstance(code, int) else EXIT_BAD_INPUT)


def run_main(fn, argv=None):
    """Call fn(argv) and turn every failure into one stderr line and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = VERBOSE_FLAG in argv
    argv = [a for a in argv if a != VERBOSE_FLAG]
    try:
        for i, arg in enumerate(argv):
            if "\0" in arg:   # no real command line has one (execve), but main(argv) can be called
                raise NcnnlikeError("argument %d %r holds a NUL character" % (i + 1, arg))
        with _unwinding_signals(), warnings.catch_warnings(), _numpy_quiet(verbose):
            warnings.simplefilter("always" if verbose else "ignore")
            warnings.simplefilter("always", NcnnlikeWarning)
            warnings.showwarning = lambda *a, **k: _show_warning(verbose, *a, **k)
            code = fn(argv)
    except NcnnlikeError as exc:
        write_line("error", exc, verbose)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        write_line("error", "interrupted", verbose)
        return 130
    except Terminated as exc:
        write_line("error", "terminated by signal %d" % exc.signum, verbose)
        return 128 + exc.signum
    except MemoryError:
        write_line("error", "out of memory (the input needs more memory than this machine has; the limits "
                            "in ncnnlike/io/limits.py catch most such inputs earlier)", verbose)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_BAD_INPUT
    except Exception as exc:   # a bug of ours: still one line, the traceback with --verbose
        if verbose:
            import traceback
            traceback.print_exc()
        write_line("error", "%s: %s: %s (please report; --verbose shows the traceback)"
                   % (INTERNAL, type(exc).__name__, _first_line(exc)), verbose)
        return EXIT_BAD_INPUT
    return code or 0


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


@contextlib.contextmanager
def _numpy_quiet(verbose):
    """numpy floating-point warnings off (on with --verbose): our results are checked for inf/nan.
    Only when numpy is already imported: a tool that imports it later (model-optimize, only when a
    pass changes weights) keeps numpy's defaults, whose warnings the warnings filter drops."""
    np = sys.modules.get("numpy")
    if np is None:
        yield
        return
    old = np.seterr(all="warn" if verbose else "ignore")
    try:
        yield
    finally:
        np.seterr(**old)


def _show_warning(verbose, message, category, filename, lineno, file=None, line=None):
    """Our warnings as one `warning: ...` line on stderr; others (only with --verbose) too."""
    if issubclass(category, NcnnlikeWarning):
        write_line("warning", message, verbose)
    elif verbose:
        write_line("warning", "%s: %s (%s:%d)" % (category.__name__, message, filename, lineno), verbose)


def split_args(argv, usage):
    """ncnn style: positional arguments first, then key=value options -> (positionals, {key: value})."""
    positionals, options = [], {}
    for arg in argv:
        if "=" in arg:
            key, _, value = arg.partition("=")
            if key in options:
                raise NcnnlikeError("option '%s' given twice" % key)
            options[key] = value
        elif options:
            raise NcnnlikeError("positional argument '%s' after key=value options (%s)" % (arg, usage))
        else:
            positionals.append(arg)
    return positionals, options


def check_keys(options, allowed):
    """Unknown keys are an error (ncnn ignores them silently; we do not)."""
    for key in options:
        if key not in allowed:
            raise NcnnlikeError("unknown option '%s=' (expected one of: %s)" % (key, ", ".join(allowed)))


def parse_int(text, what):
    """An ASCII decimal integer (int() would also take '١٥' and '1_000'), else an error naming `what`."""
    try:
        return ascii_int(text)
    except ValueError:
        raise NcnnlikeError("%s=%s: expected an integer" % (what, text)) from None


def parse_float(text, what):
    """A finite ASCII decimal number (float() would also take '١٥.6', 'nan', '1_0')."""
    try:
        return ascii_float(text)
    except ValueError:
        raise NcnnlikeError("%s=%s: expected a finite number" % (what, text)) from None


def thread_option(options, default):
    """thread=N: an integer from 1 to the thread limit (io/limits.py)."""
    value = parse_int(options["thread"], "thread") if "thread" in options else default
    return check_threads(value)


def check_lowerable(graph):
    """When every Input declares its shape, lower `graph` (nothing runs) so that a model our runtime
    cannot build is refused before it is written (issue 15: a tool that cannot check a graph fails).
    Layers after a host layer (DetectionOutput: a data-dependent size) cannot be checked this way."""
    from ncnnlike.passes.shape_inference import input_shapes
    shapes, _ = input_shapes(graph)
    if shapes is None:
        return
    from ncnnlike.runtime.lower import lower_shapes
    from ncnnlike.runtime.staged import is_host
    downstream = set()
    for layer in graph.layers:
        if is_host(layer) or downstream.intersection(layer.bottoms):
            downstream.update(layer.tops)
    wanted = [b for layer in graph.layers if is_host(layer) for b in layer.bottoms] + graph.output_names()
    outputs = [b for b in dict.fromkeys(wanted) if b not in downstream]
    if outputs:
        ctx = lower_shapes(graph, shapes, outputs)   # every layer's lowering, without building ONNX (start-up)
        _check_host_layers(graph, ctx)


def _check_host_layers(graph, ctx):
    """Run each host layer whose bottoms have known shapes once on zeros: a DetectionOutput or Yolo
    layer whose params do not fit its bottoms (num_class vs channels) fails here, not in ncnn."""
    import numpy as np
    from ncnnlike.layers.base import layer_module, resolve
    from ncnnlike.runtime.staged import is_host
    known = set(ctx.blobs())
    for layer in graph.layers:
        if not is_host(layer) or not known.issuperset(layer.bottoms):
            continue
        shapes = [tuple(ctx.shape(b)) for b in layer.bottoms]
        if any(np.prod(s, dtype=np.float64) > 1 << 24 for s in shapes):
            continue
        try:
            layer_module(layer.type).forward(layer, resolve(layer), [np.zeros(s, np.float32) for s in shapes])
        except NcnnlikeError:
            raise
        except Exception as exc:   # noqa: BLE001  (a host layer that cannot take these bottoms)
            raise NcnnlikeError("layer %s (%s): cannot run on bottoms of shapes %s: %s"
                                % (layer.name, layer.type, shapes, _first_line(exc))) from None
