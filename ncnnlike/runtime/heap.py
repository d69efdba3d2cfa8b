"""Freed heap memory handed back to the system at the moments calibration knows much was freed.

glibc keeps freed blocks for reuse (and model2table tells it to keep more: cli/heap.py). After a
session is built or dropped, what was freed is not what comes next (a run's blobs are other
sizes), so it stays resident beside it: malloc_trim returns it. Measured on Lite0, model2table
kl on 100 images: trimmed after each reloaded session is built, the peak goes 237-240 -> 208-210 MB
in the same time; after the phase-1 session is dropped, 50 MB of it no longer stays through phase 2.
"""
import ctypes


def trim():
    """Return the free memory of glibc's heap to the system; nothing elsewhere (not glibc)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):   # not glibc: nothing to trim
        pass
