"""The .param text file: reader with ncnn's syntax and clear errors, writer in ModelWriter's format.

Spec 1.1 (structure), 1.2 (param tokens), 1.3 (writer format), 1.4 (shape hints, -23330).
Every token ncnn would misread is an error naming file and line instead of silent corruption.
"""
import re
import warnings

from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning
from ncnnlike.graph import Graph, Layer
from ncnnlike.io.atomic import atomic_files
from ncnnlike.io.paths import input_path
from ncnnlike.layers.base import Link, explicit_params, layer_module
from ncnnlike.layers.checks import check_layer
from ncnnlike.paramdict import (ARRAY_KEY_BASE, MAX_PARAM_ID, SHAPE_HINT_ID, ParamDict,
                                check_value_token, f32, format_param)

MAGIC = 7767517
SHAPE_HINT_KEY = ARRAY_KEY_BASE - SHAPE_HINT_ID
MAX_NAME = 255            # %255s: type, layer and blob names
MAX_STRING = 255          # string params (spec 1.2)
SPACES = " \t\n\v\f\r"    # what C isspace() skips
PARAM_RE = re.compile(r"(-?[0-9]+)=(.*)", re.S)
COUNT_RE = re.compile(r"[0-9]+")
INT_RE = re.compile(r"[+-]?[0-9]+")
FLOAT_RE = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?(?:[eE][+-]?[0-9]+)?")


def read_param(path):
    """Parse a .param file into a Graph (weights empty); raise NcnnlikeError on anything ncnn misreads."""
    path = input_path(path, ".param")
    rows = [(i + 1, line) for i, line in enumerate(_read_text(path).split("\n")) if line.strip(SPACES)]
    if not rows:
        raise NcnnlikeError("%s:1: empty file, expected the magic number %d" % (path, MAGIC))
    lineno, line = rows[0]
    if line.split() != [str(MAGIC)]:
        raise NcnnlikeError("%s:%d: expected the magic number %d alone on the first line, found '%s' "
                            "(not an ncnn .param text file, or too old)" % (path, lineno, MAGIC, _clip(line.strip())))
    if len(rows) < 2:
        raise NcnnlikeError("%s:%d: missing the 'layer_count blob_count' line" % (path, lineno + 1))
    layer_count, blob_count = _counts(path, *rows[1])
    layer_rows = rows[2:]
    if len(layer_rows) > layer_count:
        extra = len(layer_rows) - layer_count
        warnings.warn(NcnnlikeWarning("%s:%d: %d layer line%s after the %d that line 2 declares: ignored, as ncnn "
                                      "ignores them" % (path, layer_rows[layer_count][0], extra,
                                                        "s" if extra > 1 else "", layer_count)))
        layer_rows = layer_rows[:layer_count]
    if len(layer_rows) < layer_count:
        raise NcnnlikeError("%s:%d: layer_count is %d but the file has %d layer lines"
                            % (path, rows[1][0], layer_count, len(layer_rows)))
    layers = [_parse_layer("%s:%d" % (path, n), text) for n, text in layer_rows]
    _check_graph(path, layer_rows, layers, rows[1][0], blob_count)
    return Graph(layers)


def _clip(text, size=40):
    """The start of a line quoted in a message: a binary file's 'first line' can be megabytes."""
    return text if len(text) <= size else text[:size] + "..."


def _read_text(path):
    """The file's text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise NcnnlikeError("%s: cannot read: %s" % (path, e.strerror or e)) from None
    return data.decode("utf-8", "surrogateescape")


def _counts(path, lineno, line):
    """`layer_count blob_count`, both positive integers (spec 1.1 item 2)."""
    tokens = line.split()
    if len(tokens) != 2 or not all(_is_count(t) and int(t) > 0 for t in tokens):
        raise NcnnlikeError("%s:%d: expected 'layer_count blob_count' (two positive integers), found '%s'"
                            % (path, lineno, line.strip()))
    return int(tokens[0]), int(tokens[1])


def _is_count(text):
    """A non-negative decimal integer (ASCII digits only)."""
    return COUNT_RE.fullmatch(text) is not None


def _tokens(where, line):
    """(token, following character) pairs split on whitespace; a double quote opens a span that
    runs to the next double quote, spaces included (quoted string params, spec 1.2)."""
    out = []
    i, n = 0, len(line)
    while i < n:
        if line[i] in SPACES:
            i += 1
            continue
        start = i
        while i < n and line[i] not in SPACES:
            if line[i] == '"':
                close = line.find('"', i + 1)
                if close < 0:
                    raise NcnnlikeError("%s: unterminated string in '%s'" % (where, line[start:].strip()))
                i = close
            i += 1
        out.append((line[start:i], line[i] if i < n else "\n"))
    return out


def _parse_layer(where, line):
    """One layer line: `type name bottom_count top_count bottoms... tops... id=value...`."""
    tokens = _tokens(where, line)
    if len(tokens) < 4:
        raise NcnnlikeError("%s: expected 'type name bottom_count top_count ...', found '%s'" % (where, line.strip()))
    (type_, _), (name, _), (bc, _), (tc, _) = tokens[:4]
    module = layer_module(type_, where)
    for what, text in (("bottom_count", bc), ("top_count", tc)):
        if not _is_count(text):
            raise NcnnlikeError("%s: layer %s: %s '%s' is not a non-negative integer" % (where, name, what, text))
    nb, nt = int(bc), int(tc)
    rest = tokens[4:]
    n_names = next((i for i, (tok, _) in enumerate(rest) if PARAM_RE.fullmatch(tok)), len(rest))
    if n_names != nb + nt:
        raise NcnnlikeError("%s: layer %s: bottom_count %d + top_count %d needs %d blob names, the line has %d"
                            % (where, name, nb, nt, nb + nt, n_names))
    names = [tok for tok, _ in rest[:n_names]]
    for text in [type_, name] + names:
        if len(text) > MAX_NAME:
            raise NcnnlikeError("%s: name '%s...' is longer than the %d characters ncnn reads"
                                % (where, text[:24], MAX_NAME))
    params, hints = _parse_params(where, rest[n_names:], nt)
    _check_kinds(where, name, module.PARAMS, params)
    layer = Layer(type_, name, names[:nb], names[nb:], params, {}, hints)
    check_layer(layer, where)
    return layer


def _parse_params(where, tokens, top_count):
    """`id=value` tokens -> (ParamDict, shape hints or None); ids 0..31, old- and new-style arrays."""
    params = ParamDict()
    hints = None
    for token, following in tokens:
        m = PARAM_RE.fullmatch(token)
        if not m:
            raise NcnnlikeError("%s: param token '%s' is not of the form id=value" % (where, token))
        if following not in " \n":
            raise NcnnlikeError("%s: param '%s' is followed by a tab or carriage return, which ncnn reads as "
                                "part of the value; separate params with single spaces" % (where, token))
        key, text = int(m.group(1)), m.group(2)
        old_style = key <= ARRAY_KEY_BASE
        pid = ARRAY_KEY_BASE - key if old_style else key
        if not 0 <= pid <= MAX_PARAM_ID:
            raise NcnnlikeError("%s: param key %d: id %d is outside 0..%d" % (where, key, pid, MAX_PARAM_ID))
        if pid in params or (pid == SHAPE_HINT_ID and hints is not None):
            raise NcnnlikeError("%s: param id %d is given twice" % (where, pid))
        value = _old_array(where, key, text) if old_style else _value(where, pid, text)
        if pid == SHAPE_HINT_ID:
            hints = _shape_hints(where, key, value, top_count)
        else:
            params[pid] = value
    return params, hints


def _value(where, pid, text):
    """A scalar (string, float or int) or a new-style array `v1,v2,...` typed by its first element."""
    if not text:
        raise NcnnlikeError("%s: param %d has an empty value" % (where, pid))
    if text[0].isalpha() or text[0] == '"':
        return _string(where, pid, text)
    if "," not in text:
        check_value_token(text, where)
        return _number(where, text)
    elements = text.split(",")
    for e in elements:
        check_value_token(e, where)
    first = _number(where, elements[0])
    if isinstance(first, int):
        bad = [e for e in elements if any(ch in e for ch in ".eE")]
        if bad:
            raise NcnnlikeError("%s: array %d=%s: ncnn types a new-style array by its first element (int), so it "
                                "misreads the float '%s'; write every element as a float" % (where, pid, text, bad[0]))
        return [_number(where, e) for e in elements]
    return [f32(_number(where, e)) for e in elements]


def _string(where, pid, text):
    """A string param: `"..."` (may hold spaces) or unquoted starting with a letter (spec 1.2)."""
    if text[0] == '"':
        if len(text) < 2 or not text.endswith('"') or '"' in text[1:-1]:
            raise NcnnlikeError("%s: param %d: malformed quoted string %s" % (where, pid, text))
        text = text[1:-1]
    if len(text) > MAX_STRING:
        raise NcnnlikeError("%s: param %d: string is longer than %d characters" % (where, pid, MAX_STRING))
    return text


def _number(where, token):
    """A float if the token has '.', 'e' or 'E' (ncnn's rule), else an int; anything ncnn misreads is an error."""
    if token and (token[0].isalpha() or token[0] == '"'):
        raise NcnnlikeError("%s: array element '%s' is not a number" % (where, token))
    if not any(ch in token for ch in ".eE"):
        if not INT_RE.fullmatch(token) or not -2**31 <= int(token) < 2**31:
            raise NcnnlikeError("%s: value '%s' is not a 32-bit integer or a float" % (where, token))
        return int(token)
    m = FLOAT_RE.fullmatch(token)
    if not m or not (m.group(1) or m.group(2)):
        raise NcnnlikeError("%s: value '%s' is not a number ncnn can parse" % (where, token))
    if (m.group(1) and int(m.group(1)) >= 2**32) or len(m.group(2) or "") > 9:
        raise NcnnlikeError("%s: float '%s' overflows ncnn's parser (integer part >= 2^32 or more than 9 "
                            "fraction digits, spec 1.2); write it as %%e, e.g. %e" % (where, token, float(token)))
    return f32(float(token))


def _old_array(where, key, text):
    """`-233xx=count,v1,...`: floats if any element is a float (ncnn's last-element type, spec 1.2)."""
    parts = text.split(",")
    for part in parts:
        check_value_token(part, where)
    if not _is_count(parts[0]):
        raise NcnnlikeError("%s: array %d: count '%s' is not a non-negative integer" % (where, key, parts[0]))
    count, elements = int(parts[0]), parts[1:]
    if count != len(elements):
        raise NcnnlikeError("%s: array %d declares %d elements but lists %d" % (where, key, count, len(elements)))
    values = [_number(where, e) for e in elements]
    if not any(isinstance(v, float) for v in values):
        return values
    ints = [e for e, v in zip(elements, values) if isinstance(v, int) and v != 0]
    if ints:
        raise NcnnlikeError("%s: array %d mixes ints and floats: ncnn stores the int '%s' as a bit pattern that "
                            "reads as a tiny float; write every element as a float" % (where, key, ints[0]))
    return [float(v) for v in values]


def _shape_hints(where, key, value, top_count):
    """-23330=step*tops,... -> one (dims, w, h, d, c) tuple per top (spec 1.4): step 5 is
    `dims,w,h,d,c` (today's writer), step 4 `dims,w,h,c` (older files, ncnn's benchmark models)."""
    if not isinstance(value, list) or any(not isinstance(v, int) for v in value):
        raise NcnnlikeError("%s: shape hints %d= must be an int array" % (where, key))
    step = len(value) // top_count if top_count else 0
    if step not in (4, 5) or len(value) != step * top_count:
        raise NcnnlikeError("%s: shape hints %d= hold %d ints for %d top blob(s); expected 4 (dims,w,h,c) or "
                            "5 (dims,w,h,d,c) per top" % (where, key, len(value), top_count))
    hints = []
    for i in range(0, len(value), step):
        dims, w, h = value[i:i + 3]
        if not 0 <= dims <= 4 or min(value[i + 1:i + step]) < 0 or (step == 4 and dims == 4):
            raise NcnnlikeError("%s: shape hint %s is not a blob shape (dims 0..4, sizes >= 0; a 4-D blob needs "
                                "5 ints per top)" % (where, ",".join(map(str, value[i:i + step]))))
        d, c = (value[i + 3], value[i + 4]) if step == 5 else (1, value[i + 3])
        hints.append((dims, w, h, d, c))
    return hints


def _schema_default(params_by_id, param):
    """A param's default with Link chains followed (its kind: int, float, str or list)."""
    while isinstance(param.default, Link):
        param = params_by_id[param.default.id]
    return param.default


def _check_kinds(where, name, schema, params):
    """Reject values ncnn would reinterpret bit-wise (spec 1.2 'No type coercion'); int 0 for a float is 0.0."""
    by_id = {p.id: p for p in schema}
    for pid, value in list(params.items()):
        if pid not in by_id:
            continue
        default = _schema_default(by_id, by_id[pid])
        label = "%s: layer %s: param %d (%s)" % (where, name, pid, by_id[pid].name)
        if isinstance(default, list) != isinstance(value, list):
            expected = "an array (-%d=count,...)" % (-ARRAY_KEY_BASE + pid) if isinstance(default, list) else "a scalar"
            raise NcnnlikeError("%s must be %s" % (label, expected))
        if isinstance(default, list):
            continue
        if isinstance(default, str) != isinstance(value, str):
            raise NcnnlikeError("%s must be a %s, found %r" % (label, "string" if isinstance(default, str)
                                                                 else "number", value))
        if isinstance(default, float) and isinstance(value, int):
            if value != 0:
                raise NcnnlikeError("%s is a float: ncnn reads the int %d as its bit pattern (a denormal); "
                                    "write %d.0" % (label, value, value))
            params[pid] = 0.0
        if isinstance(default, int) and isinstance(value, float):
            raise NcnnlikeError("%s is an int: ncnn reads the float %r as its bit pattern; write an integer"
                                % (label, value))


def _check_graph(path, rows, layers, counts_line, blob_count):
    """Unique layer names, every bottom produced earlier, every top produced once, enough blobs; a
    blob read by two layers is a warning (ncnn frees it after one: the writer refuses it)."""
    names = {}
    producer = {}
    consumer = {}
    for (lineno, _), layer in zip(rows, layers):
        where = "%s:%d: layer %s" % (path, lineno, layer.name)
        if layer.name in names:
            raise NcnnlikeError("%s: duplicate layer name (first on line %d)" % (where, names[layer.name]))
        names[layer.name] = lineno
        for b in layer.bottoms:
            if b not in producer:
                raise NcnnlikeError("%s: bottom blob '%s' is used before any layer produces it" % (where, b))
            if consumer.setdefault(b, layer.name) != layer.name:
                warnings.warn(NcnnlikeWarning("%s: blob '%s' is also a bottom of layer %s: ncnn frees a blob after "
                                              "its first reader, so extracting both fails there; a writer will "
                                              "refuse this graph (insert a Split layer)" % (where, b, consumer[b])))
        for t in layer.tops:
            if t in producer:
                raise NcnnlikeError("%s: top blob '%s' is already produced by layer %s" % (where, t, producer[t]))
            producer[t] = layer.name
    if blob_count < len(producer):
        raise NcnnlikeError("%s:%d: blob_count is %d but the layers name %d distinct blobs"
                            % (path, counts_line, blob_count, len(producer)))


def param_text(graph):
    """The .param text exactly as ncnn's ModelWriter prints it (spec 1.1, 1.3, 1.4); a graph that
    ncnn would refuse (a layer's params, a value outside 32 bits, a blob used before it is made)
    is an error instead of a file."""
    _check_writable_graph(graph)
    lines = [str(MAGIC), "%d %d" % (len(graph.layers), len(graph.blob_names()))]
    for layer in graph.layers:
        for text in [layer.type, layer.name] + list(layer.bottoms) + list(layer.tops):
            if not text or len(text) > MAX_NAME or any(ch in SPACES for ch in text):
                raise NcnnlikeError("layer %s: name '%s' must be 1..%d characters without whitespace"
                                    % (layer.name, text, MAX_NAME))
        check_layer(layer)
        parts = ["%-24s %-24s %d %d" % (layer.type, layer.name, len(layer.bottoms), len(layer.tops))]
        parts += [" " + blob for blob in list(layer.bottoms) + list(layer.tops)]
        hints = layer.shape_hints
        if hints and len(hints) == len(layer.tops) and all(h is not None for h in hints):
            flat = [int(v) for h in hints for v in h]
            if any(v < 0 or v >= 2**31 for v in flat):
                raise NcnnlikeError("layer %s: shape hints %s hold a size ncnn cannot use" % (layer.name, hints))
            parts.append(" %d=%s" % (SHAPE_HINT_KEY, ",".join(str(v) for v in [len(flat)] + flat)))
        for pid, value in explicit_params(layer):
            if isinstance(value, str) and ('"' in value or len(value) > MAX_STRING):
                raise NcnnlikeError("layer %s: string param %d must be at most %d characters without '\"'"
                                    % (layer.name, pid, MAX_STRING))
            _check_int32(layer, pid, value)
            parts.append(" " + format_param(pid, value))
        lines.append("".join(parts))
    return "\n".join(lines) + "\n"


def _check_int32(layer, pid, value):
    """An int param (or array element) ncnn's %d reads back: -2^31 .. 2^31-1."""
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, int) and not isinstance(v, bool) and not -2**31 <= v < 2**31:
            raise NcnnlikeError("layer %s (%s): param %d = %d does not fit the 32-bit int ncnn reads"
                                % (layer.name, layer.type, pid, v))


def _check_writable_graph(graph):
    """Unique layer names; every bottom made by an earlier layer and read by one layer; every top
    made once (as the reader)."""
    names, producer, consumer = set(), set(), {}
    for layer in graph.layers:
        if layer.name in names:
            raise NcnnlikeError("layer %s: two layers have this name" % layer.name)
        names.add(layer.name)
        for b in layer.bottoms:
            if b not in producer:
                raise NcnnlikeError("layer %s: bottom blob '%s' is used before any layer produces it" % (layer.name, b))
            if consumer.setdefault(b, layer.name) != layer.name:
                raise NcnnlikeError("layer %s: blob '%s' is already a bottom of layer %s: ncnn needs a Split"
                                    % (layer.name, b, consumer[b]))
        for t in layer.tops:
            if t in producer:
                raise NcnnlikeError("layer %s: top blob '%s' is produced twice" % (layer.name, t))
            producer.add(t)


def save_param_text(text, path):
    """Write .param text to `path` as ncnn would (UTF-8, '\\n' line ends)."""
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        f.write(text)


def write_param(graph, path):
    """Write the graph's .param atomically: the old file stays until the new one is complete."""
    text = param_text(graph)
    with atomic_files(path) as (tmp,):
        save_param_text(text, tmp)
