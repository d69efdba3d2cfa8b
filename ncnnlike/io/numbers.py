"""Numbers in arguments and text files: ASCII decimal only.

Python's int() and float() also accept Unicode digits ('١٥.6'), underscores ('1_000'), 'nan' and
'infinity'; ncnn's atoi/strtof do not, and a table or option that only Python can read is a file
that ncnn misreads. These helpers accept what C reads and raise ValueError otherwise.
"""
import re

_INT = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,4})?", re.ASCII)


def ascii_int(text):
    """An ASCII decimal integer (at most 18 digits), else ValueError."""
    body = text.strip()
    if not _INT.fullmatch(body):
        raise ValueError("not an integer: %r" % text)
    return int(body)


def ascii_float(text):
    """A finite ASCII decimal number (C's %f / strtof syntax without inf/nan/hex), else ValueError."""
    body = text.strip()
    if not _FLOAT.fullmatch(body):
        raise ValueError("not a number: %r" % text)
    value = float(body)
    if value in (float("inf"), float("-inf")):
        raise ValueError("not a finite number: %r" % text)
    return value
