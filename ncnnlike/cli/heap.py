"""glibc malloc settings for model2table: keep freed heap memory for reuse, one arena for all threads.

numpy's temporaries of a few MB each come and go by the thousand in the KL threshold search. glibc
serves blocks above its mmap threshold with a fresh mapping, and gives the top of the heap back to
the system once more than its trim threshold is free; both thresholds move with what the process
did before, so the same temporaries were faulted in again and again. Fixing them (blocks up to
32 MB from the heap, up to 64 MB of free heap kept) made model2table kl's search on Lite0's 50
layers take 0.5-0.6 s of CPU instead of 1.3 s. Peak memory is that of calibration, far above
what the search frees.

glibc also gives threads that allocate at once arenas of their own, whose free memory no other
thread reuses: calibration's worker, decoding and onnxruntime threads each grew one. With a single
arena (one_arena), Lite0's model2table on 100 images peaks at 274 instead of 304-310 MB (kl) and
178 instead of 203 MB (aciq), in the same time (2 threads; onnxruntime and numpy allocate large
blocks seldom, so the shared lock is not contended).
"""
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8
MMAP_THRESHOLD_BYTES = 32 << 20
TRIM_THRESHOLD_BYTES = 64 << 20


def keep_freed_pages():
    """Fix glibc's mmap and trim thresholds as above; False when the C library is not glibc."""
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                    and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def one_arena():
    """Make every thread allocate from glibc's main arena (before the threads start); False when the
    C library is not glibc."""
    import ctypes
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        return False
