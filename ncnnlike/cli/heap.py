"""Keep freed heap pages for reuse during a long numpy job (glibc's malloc only).

numpy's temporaries of a few MB each come from the heap; by default glibc hands the top of the heap
back to the system as soon as they are freed, and the next temporary faults the same pages in again.
Measured on model2table kl (Lite0, 50 layers): the KL threshold search spent most of its time in
those page faults, 1.35 s of CPU against 0.47-0.60 s with 64 MB kept (M_TOP_PAD); smaller pads
(8-32 MB) gave nothing. Peak memory is that of calibration, well above what the search frees.
"""
M_TOP_PAD = -2
TOP_PAD_BYTES = 64 << 20


def keep_freed_pages():
    """Ask glibc to keep TOP_PAD_BYTES of freed memory at the top of the heap; False if not glibc."""
    import ctypes
    try:
        return bool(ctypes.CDLL(None).mallopt(M_TOP_PAD, TOP_PAD_BYTES))
    except (OSError, AttributeError):
        return False
