"""glibc's heap during calibration: freed memory kept for reuse, one arena for all threads, and
handed back to the system at the moments calibration knows much was freed (glibc only; elsewhere
each function does nothing).

numpy's temporaries of a few MB each come and go by the thousand in the KL threshold search. glibc
serves blocks above its mmap threshold with a fresh mapping, and gives the top of the heap back to
the system once more than its trim threshold is free; both thresholds move with what the process
did before, so the same temporaries were faulted in again and again. Fixing them (keep_freed_pages:
blocks up to 32 MB from the heap, up to 64 MB of free heap kept) made model2table kl's search on
Lite0's 50 layers take 0.5-0.6 s of CPU instead of 1.3 s.

glibc also gives threads that allocate at once arenas of their own, whose free memory no other
thread reuses: calibration's worker, decoding and onnxruntime threads each grew one. With a single
arena (one_arena), Lite0's model2table on 100 images peaks at 274 instead of 304-310 MB (kl) and
178 instead of 203 MB (aciq), in the same time (2 threads; onnxruntime and numpy allocate large
blocks seldom, so the shared lock is not contended).

After a session is built or dropped, what was freed is not what comes next (a run's blobs are other
sizes), so it stays resident beside it: trim returns it. Measured on Lite0, model2table kl on 100
images: trimmed after each reloaded session is built (runtime/reloaded.py), the peak goes
237-240 -> 208-210 MB in the same time; after the phase-1 session is dropped (calibrate.
release_sessions), 50 MB of it no longer stays through phase 2.
"""
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20


def _libc():
    """The C library's functions, or None where it cannot be loaded."""
    import ctypes
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def _call(name, *args):
    """libc's `name`(*args) as a bool; False when the C library is not glibc (no such function)."""
    function = getattr(_libc(), name, None)
    return bool(function(*args)) if function is not None else False


def keep_freed_pages():
    """Fix glibc's mmap and trim thresholds as above; False when the C library is not glibc."""
    return _call("mallopt", M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) and \
        _call("mallopt", M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)


def one_arena():
    """Make every thread allocate from glibc's main arena (before the threads start); False when the
    C library is not glibc."""
    return _call("mallopt", M_ARENA_MAX, 1)


def trim():
    """Return the free memory of glibc's heap to the system; nothing elsewhere (not glibc)."""
    _call("malloc_trim", 0)
