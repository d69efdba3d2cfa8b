"""Resource limits, checked before anything is allocated, each with a name the error quotes.

A hostile or damaged file can declare a 3.5 PiB npy array, a 60000x60000 image or an Interp to
60000^2 in a few bytes; a mistyped thread=100000 starts threads until the process dies. These
limits turn such inputs into one clear error instead of a MemoryError, a hang or a signal. Each
can be raised with an environment variable of the same name (NCNNLIKE_MAX_BLOB_BYTES=...).
"""
import os

from ncnnlike.errors import NcnnlikeLimitError

GiB = 1 << 30

DEFAULTS = {
    "MAX_BLOB_BYTES": 4 * GiB,          # one blob of one sample (float32), in the runtime's graph
    "MAX_BATCH_BLOB_BYTES": 8 * GiB,    # one blob of a whole batch
    "MAX_IMAGE_PIXELS": 1 << 26,        # a decoded image (8192 x 8192)
    "MAX_INPUT_ELEMENTS": 1 << 27,      # one preprocessed sample (shape=, npy arrays): 512 MiB float32
    "MAX_NPY_BYTES": 2 * GiB,           # the data of one .npy file
    "MAX_BATCH": 1024,                  # batch=: samples decoded and run together
    "THREADS_PER_CORE": 4,              # thread= at most this many per core (at least MIN_THREAD_LIMIT)
    "MIN_THREAD_LIMIT": 16,
}


def limit(name):
    """The value of a limit: NCNNLIKE_<name> from the environment if it is a positive integer, else the default."""
    text = os.environ.get("NCNNLIKE_" + name, "")
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    return DEFAULTS[name]


def max_threads():
    """The largest thread= accepted: THREADS_PER_CORE per core, at least MIN_THREAD_LIMIT."""
    return max(limit("MIN_THREAD_LIMIT"), limit("THREADS_PER_CORE") * (os.cpu_count() or 1))


def check_threads(value, what="thread"):
    """thread= must be 1..max_threads() (a thread costs a stack: 100000 of them exhaust memory)."""
    top = max_threads()
    if not 1 <= value <= top:
        raise NcnnlikeLimitError("%s=%d: expected 1 to %d (%d cores; the limit is NCNNLIKE_THREADS_PER_CORE=%d "
                                 "per core, at least %d)" % (what, value, top, os.cpu_count() or 1,
                                                             limit("THREADS_PER_CORE"), limit("MIN_THREAD_LIMIT")))
    return value


def check_batch(value):
    """batch= must be 1..MAX_BATCH: every sample of a batch is decoded and held before it runs."""
    top = limit("MAX_BATCH")
    if not 1 <= value <= top:
        raise NcnnlikeLimitError("batch=%d: expected 1 to %d (the limit NCNNLIKE_MAX_BATCH)" % (value, top))
    return value


def count(shape):
    """The number of elements of a shape, as a Python int (no overflow)."""
    n = 1
    for s in shape:
        n *= int(s)
    return n


def check_size(what, shape, name, itemsize=1, unit="elements"):
    """Refuse `shape` when count(shape) * itemsize exceeds limit `name`; `what` names the thing."""
    size = count(shape) * itemsize
    top = limit(name)
    if size > top:
        raise NcnnlikeLimitError("%s of shape %s is %d %s, more than the limit NCNNLIKE_%s=%d"
                                 % (what, "x".join(str(int(s)) for s in shape), size, unit, name, top))
    return size
