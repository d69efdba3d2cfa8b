"""ParamDict: the typed `id=value` params of one ncnn layer, and their text tokens (spec 1.2, 1.3).

Values are Python ints, floats (always float32-representable), strings, or lists of ints or of
floats (arrays). Insertion order is kept; the writer decides the output order from the layer schema.
"""
import math
import struct

from ncnnlike.errors import NcnnlikeError

MAX_PARAM_ID = 31
ARRAY_KEY_BASE = -23300
SHAPE_HINT_ID = 30


_FLOAT32 = struct.Struct("<f")


def f32(value):
    """Round a number to the nearest float32, as ncnn stores every float param (a C cast: beyond
    float32's range, +-inf; without numpy, which model-optimize may never import)."""
    value = float(value)
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


def format_float(value):
    """ncnn's writer format for floats, printf %e of the float32 value, when ncnn reads that back as
    the same float32; else %.8e (9 significant digits, at most 15 characters: exact).

    %e keeps 7 digits: a scale of 1.3841065 written as 1.384107e+00 is 3.6e-7 off, and the 70-odd
    scalar Mul/Add of PP-OCRv4 rec doubled its pip ncnn error. Values read from ncnn files round-trip
    through %e, so files ncnn's own tools write are reproduced byte for byte."""
    v = f32(value)
    if not math.isfinite(v):
        v = 3.402823e38 if v > 0 else -3.402823e38
    text = "%e" % v
    return text if f32(float(text)) == v else "%.8e" % v


def format_value(value):
    """Format one param value (scalar or array) the way ncnn's ModelWriter does."""
    if isinstance(value, str):
        return '"%s"' % value
    if isinstance(value, list):
        if value and isinstance(value[0], float):
            return ",".join([str(len(value))] + [format_float(v) for v in value])
        return ",".join([str(len(value))] + ["%d" % v for v in value])
    if isinstance(value, float):
        return format_float(value)
    return "%d" % value


def format_param(pid, value):
    """One `key=value` token: arrays use the old-style negative key (-233xx)."""
    if isinstance(value, list):
        return "%d=%s" % (ARRAY_KEY_BASE - pid, format_value(value))
    return "%d=%s" % (pid, format_value(value))


def parse_number(token):
    """Classify one value token as ncnn does: float if it has '.', 'e' or 'E', else int."""
    if any(ch in token for ch in ".eE"):
        try:
            return f32(float(token))
        except ValueError:
            return None
    try:
        return int(token)
    except ValueError:
        return None


class ParamDict(dict):
    """Mapping param id -> value for one layer; only explicitly set ids are stored."""

    def get_int(self, pid, default=0):
        return int(self.get(pid, default))

    def get_float(self, pid, default=0.0):
        return float(self.get(pid, default))

    def copy(self):
        return ParamDict({k: (list(v) if isinstance(v, list) else v) for k, v in self.items()})


def check_value_token(token, where):
    """Reject a token ncnn's `%15[^,\\n ]` scanf would misread (too long, tab, CR)."""
    if len(token) > 15:
        raise NcnnlikeError("%s: value token '%s' is longer than the 15 characters ncnn reads" % (where, token))
    if "\t" in token or "\r" in token:
        raise NcnnlikeError("%s: value token %r contains a tab or carriage return, which ncnn misreads" % (where, token))
