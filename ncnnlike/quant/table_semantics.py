"""Our table semantics (DESIGN "Table semantics"): which layers a table quantizes, with which scales.

ncnn2int8 (spec 6.2, 6.3) skips a conv layer silently when its activation line is missing and, when
its weight line is missing, stops quantizing every later layer of that type. Here a Convolution,
ConvolutionDepthWise or InnerProduct is quantized only if both `<layer>_param_0` and `<layer>` are
present (uncommented); a layer missing either stays float, only that layer, with a warning. Counts
must match the layer, values must be finite and positive (the reader checks sign and nan). The one
exception is ncnn2table's `inf` weight scale for an all-zero channel: accepted with a warning, and
replaced by 1.0, which quantizes that channel to zeros (ncnn writes -127 there through a NaN).
Embed, MultiHeadAttention, RNN, LSTM and GRU follow the same rule: quantized only with all their
`<layer>_param_N` lines present, else that layer stays float with a warning naming the missing
lines (ncnn2int8 at HEAD refuses to run without them, 6.1; mixed precision needs the float choice).
"""
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import resolve

CONV_TYPES = ("Convolution", "ConvolutionDepthWise", "InnerProduct")
STATIC_LINE_COUNT = {"Embed": 1, "MultiHeadAttention": 4, "RNN": 2, "LSTM": 2, "GRU": 2}
RNN_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}

# param ids (spec 3) of the weight-only layers, read directly: their modules may not resolve them
EMBED_DIM, RNN_NUM_OUTPUT, RNN_DIRECTION, LSTM_HIDDEN_SIZE = 0, 0, 2, 3
INF_REPLACEMENT = np.float32(1.0)


@dataclass
class ConvScales:
    """Scales of one quantized conv layer: weight scales (per channel or group) and the bottom scale."""
    weight: np.ndarray
    bottom: np.ndarray


@dataclass
class TablePlan:
    """What a table means for a model: conv scales and weight-only lines per layer, plus warnings."""
    conv: OrderedDict = field(default_factory=OrderedDict)
    static: OrderedDict = field(default_factory=OrderedDict)
    warnings: list = field(default_factory=list)


def roundtrip_f(values):
    """Scales as ncnn2int8 reads them: printed with `%f`, read back as float32 (spec 5.9 REC)."""
    flat = np.asarray(values, np.float32).reshape(-1).tolist()
    return np.array((("%f " * len(flat)) % tuple(flat)).split(), np.float64).astype(np.float32)


def conv_rows(layer):
    """The weight_data of a conv layer as (rows, -1) float32: output channels, or groups for depthwise."""
    p = resolve(layer)
    rows = p.group if layer.type == "ConvolutionDepthWise" else p.num_output
    return split_rows(layer, first_weight(layer), rows)


def split_rows(layer, weights, rows):
    """`weights` as (rows, -1), or a clear error when they do not split into `rows` equal rows."""
    if rows <= 0 or weights.size % rows:
        raise NcnnlikeError("layer %s: %d weights do not split into %d rows" % (layer.name, weights.size, rows))
    return weights.reshape(rows, -1)


def first_weight(layer, index=0):
    """The `index`-th weight buffer of a layer in .bin order, as float32."""
    buffers = list(layer.weights.values())
    if len(buffers) <= index:
        raise NcnnlikeError("layer %s: has %d weight buffers, expected at least %d"
                            % (layer.name, len(buffers), index + 1))
    return np.asarray(buffers[index], np.float32).reshape(-1)     # float32 weights: a view, no copy


def static_rows(layer):
    """The weight matrices, as (rows, -1), that the `<layer>_param_N` lines scale row by row (spec 5.7)."""
    if layer.type == "Embed":
        return [split_rows(layer, first_weight(layer), 1)]
    if layer.type == "MultiHeadAttention":
        embed_dim = layer.params.get(EMBED_DIM, 0)
        return [split_rows(layer, first_weight(layer, i), embed_dim) for i in (0, 2, 4)] + \
               [split_rows(layer, first_weight(layer, 6), 1)]
    num_output = layer.params.get(RNN_NUM_OUTPUT, 0)
    directions = 2 if layer.params.get(RNN_DIRECTION, 0) == 2 else 1
    hidden = layer.params.get(LSTM_HIDDEN_SIZE, num_output) if layer.type == "LSTM" else num_output
    rows = directions * hidden * RNN_GATES[layer.type]
    return [split_rows(layer, first_weight(layer, i), rows) for i in (0, 2)]


def checked_scales(line, rows, table_path, what, warnings, unit="weight row"):
    """A table line's values for a weight matrix of `rows.shape[0]` rows: count checked, inf only on
    an all-zero row (replaced by 1.0, with a warning), %f round trip."""
    where = "%s:%d" % (table_path, line.line)
    if line.values.size != rows.shape[0]:
        raise NcnnlikeError("%s: %s needs %d values (one per %s), the table line '%s' has %d"
                            % (where, what, rows.shape[0], unit, line.key, line.values.size))
    values = np.array(line.values, np.float32)
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        nonzero = [int(c) for c in inf if np.any(rows[c] != 0)]
        if nonzero:
            raise NcnnlikeError("%s: %s: scale inf for channel %d, whose weights are not all zero"
                                % (where, what, nonzero[0]))
        warnings.append("%s: %s: inf scale for all-zero channel(s) %s (as ncnn2table writes them): "
                        "quantized to zeros with scale 1.0" % (where, what, ",".join(str(int(c)) for c in inf)))
        values[inf] = INF_REPLACEMENT
    return roundtrip_f(values)


def plan_conv(layer, table, plan):
    """Decide one conv layer: both lines present -> ConvScales, else a warning and float."""
    wkey = layer.name + "_param_0"
    wline, bline = table.weights.get(wkey), table.blobs.get(layer.name)
    if wline is None or bline is None:
        missing = [repr(k) for k, line in ((wkey, wline), (layer.name, bline)) if line is None]
        plan.warnings.append("layer %s (%s): no uncommented table line %s: it stays float"
                             % (layer.name, layer.type, " or ".join(missing)))
        return
    if not layer.weights:
        plan.warnings.append("layer %s (%s): dynamic weights cannot be quantized: it stays float"
                             % (layer.name, layer.type))
        return
    unit = "group" if layer.type == "ConvolutionDepthWise" else "output channel"
    weight = checked_scales(wline, conv_rows(layer), table.path, "layer %s (%s)" % (layer.name, layer.type),
                            plan.warnings, unit)
    if bline.values.size != 1 or not np.isfinite(bline.values).all():
        raise NcnnlikeError("%s:%d: layer %s needs one finite activation scale, the table line '%s' has %s"
                            % (table.path, bline.line, layer.name, bline.key,
                               " ".join("%g" % v for v in bline.values)))
    plan.conv[layer.name] = ConvScales(weight, roundtrip_f(bline.values))


def plan_static(layer, table, plan):
    """Decide one Embed / MultiHeadAttention / RNN / LSTM / GRU layer from its `_param_N` lines."""
    keys = ["%s_param_%d" % (layer.name, n) for n in range(STATIC_LINE_COUNT[layer.type])]
    lines = [table.weights.get(k) if table is not None else None for k in keys]
    missing = [k for k, line in zip(keys, lines) if line is None]
    if missing:
        source = "table %s has" % table.path if table is not None else "no table given:"
        plan.warnings.append("layer %s (%s): %s no uncommented line %s: it stays float"
                             % (layer.name, layer.type, source, " or ".join(repr(k) for k in missing)))
        return
    rows = static_rows(layer)
    what = "layer %s (%s)" % (layer.name, layer.type)
    plan.static[layer.name] = [checked_scales(line, r, table.path, what, plan.warnings)
                               for line, r in zip(lines, rows)]


def unmatched_lines(graph, table):
    """Table lines that name no quantizable layer of the model (key, line number), in file order."""
    conv = {l.name for l in graph if l.type in CONV_TYPES}
    static = {"%s_param_%d" % (l.name, n) for l in graph if l.type in STATIC_LINE_COUNT
              for n in range(STATIC_LINE_COUNT[l.type])}
    known = {name + "_param_0" for name in conv} | static
    lines = [l for l in table.weights.values() if l.key not in known]
    lines += [l for l in table.blobs.values() if l.key not in conv]
    return sorted(lines, key=lambda l: l.line)


def apply_table(graph, table=None):
    """Apply our table semantics to a model: a TablePlan, or a clear error (spec 6.2-6.4, DESIGN)."""
    plan = TablePlan()
    if table is not None:
        stray = unmatched_lines(graph, table)
        if len(stray) == len(table.weights) + len(table.blobs):
            raise NcnnlikeError("table %s matches no Convolution, ConvolutionDepthWise, InnerProduct, Embed, "
                                "MultiHeadAttention, RNN, LSTM or GRU layer of the model" % table.path)
        for line in stray:
            plan.warnings.append("%s:%d: '%s' names no quantizable layer of the model: ignored"
                                 % (table.path, line.line, line.key))
    for layer in graph:
        if layer.type in CONV_TYPES and table is not None:
            plan_conv(layer, table, plan)
        elif layer.type in STATIC_LINE_COUNT:
            plan_static(layer, table, plan)
    return plan
