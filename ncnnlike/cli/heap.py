"""Keep freed heap memory for reuse during a long numpy job (glibc's malloc only).

numpy's temporaries of a few MB each come and go by the thousand in the KL threshold search. glibc
serves blocks above its mmap threshold with a fresh mapping, and gives the top of the heap back to
the system once more than its trim threshold is free; both thresholds move with what the process
did before, so the same temporaries were faulted in again and again. Fixing them (blocks up to
32 MB from the heap, up to 64 MB of free heap kept) made model2table kl's search on Lite0's 50
layers take 0.5-0.6 s of CPU instead of 1.3 s. Peak memory is that of calibration, far above
what the search frees.
"""
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
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
