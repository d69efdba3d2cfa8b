"""Calibration table file (spec 5.9): ncnn's exact writer format, and a reader with our clear semantics.

Writer: `key v1 v2 ... ` with each value as `%f ` (so every line ends in " \\n"), weight lines
(`<layer>_param_0`) first, then blob lines (`<layer>`), then the weight-only lines of Embed, MHA and
RNN-family layers; written to a temporary file that is renamed over the target, so a failure never
leaves a partial table. Our tables never hold inf or nan (the zero guards give 1.0).

Reader (DESIGN "Table semantics"): `#` starts a comment anywhere on a line, blank lines and tabs
are fine, a line is `key v1 v2 ...`; keys containing `_param_` are weight lines, others blob lines
(ncnn's rule, spec 6.2). A value must be a finite number of at least MIN_SCALE (what `%f` can
write back); `inf` is accepted only because
ncnn2table writes it for all-zero channels, and such a line is flagged (`has_inf`) for the
converter to warn about. Anything else is an error naming file:line.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import atomic_open

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
_INF = re.compile(r"^\+?inf(inity)?$", re.IGNORECASE | re.ASCII)
MIN_SCALE = 5e-7    # the smallest value `%f` writes as non-zero (0.000001): below it a table cannot hold a scale
_NUMBERS = re.compile(r"(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)? )*\Z", re.ASCII)   # tokens joined by ' ', ' ' after each


@dataclass
class TableLine:
    """One parsed line: its key, float32 values, 1-based line number, and whether a value is inf."""
    key: str
    values: np.ndarray
    line: int
    has_inf: bool = False


@dataclass
class Table:
    """A parsed table: weight lines and blob lines, each an OrderedDict key -> TableLine in file order."""
    path: str
    weights: OrderedDict
    blobs: OrderedDict


def is_weight_key(key):
    """ncnn's split (spec 6.2): keys containing `_param_` go to the weight table."""
    return "_param_" in key


def format_line(key, values):
    """`key %f %f ... \\n` exactly as ncnn2table's save_table prints it."""
    return key + " " + "".join("%f " % float(np.float32(v)) for v in values) + "\n"


def _check_line(key, values):
    if not key or any(ch.isspace() for ch in key) or "#" in key:
        raise NcnnlikeError("table key %r is empty or has whitespace or '#' (a comment when read)" % (key,))
    values = np.asarray(values, np.float32).reshape(-1)
    if values.size == 0:
        raise NcnnlikeError("table line %s has no values" % key)
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        raise NcnnlikeError("table line %s has a value that is not a finite positive number" % key)
    if np.any(values < MIN_SCALE):
        raise NcnnlikeError("table line %s: scale %g is below %g, which the table's %%f format writes as 0 "
                            "(the layer's values are too large to quantize: keep it float)"
                            % (key, float(values.min()), MIN_SCALE))
    return values


def write_table(path, weight_lines, blob_lines, static_lines=None):
    """Write a table atomically: weight lines, blob lines, then static weight-only lines (spec 5.9)."""
    text = []
    for lines in (weight_lines, blob_lines, static_lines or {}):
        for key, values in lines.items():
            text.append(format_line(key, _check_line(key, values)))
    with atomic_open(path, "wb") as f:
        f.write("".join(text).encode("utf-8"))


def parse_value(token, where):
    """One value: a decimal number (as C's %f reads it) or inf; float32."""
    if _NUMBER.match(token):
        value = np.float32(float(token))
        if not np.isfinite(value):
            raise NcnnlikeError("%s: scale %s does not fit a float32" % (where, token))
    elif _INF.match(token):
        value = np.float32(np.inf)
    else:
        raise NcnnlikeError("%s: '%s' is not a number" % (where, token))
    if not value > 0:
        raise NcnnlikeError("%s: scale %s must be positive" % (where, token))
    if value < MIN_SCALE:
        raise NcnnlikeError("%s: scale %s is below %g: the table format (%%f) cannot hold it, a table "
                            "written from it would say 0" % (where, token, MIN_SCALE))
    return value


def parse_values(tokens, where):
    """The float32 values of a line: a line of plain decimal numbers is checked by one regex and
    converted by numpy (a table holds ~20000 values: start-up time); others value by value."""
    if _NUMBERS.match(" ".join(tokens) + " "):
        values = np.array(tokens, np.float64).astype(np.float32)    # as np.float32(float(token))
        if np.all(np.isfinite(values)) and np.all(values >= MIN_SCALE):
            return values
    return np.array([parse_value(t, where) for t in tokens], np.float32)


def parse_table(text, path="<table>"):
    """Parse table text into a Table (see the module docstring for the rules)."""
    weights, blobs = OrderedDict(), OrderedDict()
    for number, raw in enumerate(text.splitlines(), 1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        key, where = tokens[0], "%s:%d" % (path, number)
        if len(tokens) == 1:
            raise NcnnlikeError("%s: key '%s' has no values" % (where, key))
        values = parse_values(tokens[1:], where)
        target = weights if is_weight_key(key) else blobs
        if key in target:
            raise NcnnlikeError("%s: key '%s' repeats line %d" % (where, key, target[key].line))
        target[key] = TableLine(key, values, number, bool(np.isinf(values).any()))
    return Table(path, weights, blobs)


def read_table(path):
    """Read and parse a table file; errors name the file and line."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except OSError as e:
        raise NcnnlikeError("cannot read table %s: %s" % (path, e.strerror)) from None
    except UnicodeDecodeError:
        raise NcnnlikeError("%s: not a text file" % path) from None
    return parse_table(text, path)
