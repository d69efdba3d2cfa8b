"""model2int8 on a Graph (spec 6): quantize weights, set int8_scale_term, fuse requantize.

Which layers are quantized, and with which scales, comes from quant/table_semantics.py (our
semantics). Weights are quantized with ncnn's x86 rounding, which reproduces ncnn2int8's bytes
(spec 7.2 REC). Convolution and InnerProduct get 8=2, ConvolutionDepthWise 8=1 with one scale
per group (6.3); Embed, MultiHeadAttention and RNN/LSTM/GRU follow their table lines and Gemm is
always quantized with its own absmax scales (6.4); then fuse_requantize (6.5). Float layers keep
their float weights: the writer stores them as fp16 or fp32 (6.1).
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.requantize import assign_weights, fuse_requantize
from ncnnlike.quant.table_semantics import apply_table, static_rows

# int8 flag id per layer type (spec 3): int8_scale_term or quantize_term
TERM_ID = {"Convolution": 8, "ConvolutionDepthWise": 8, "InnerProduct": 8, "RNN": 8, "LSTM": 8, "GRU": 8,
           "Embed": 18, "MultiHeadAttention": 18, "Gemm": 18, "SDPA": 18}
INT8_TERM = {"Convolution": 2, "ConvolutionDepthWise": 1, "InnerProduct": 2}  # spec 6.3
BIAS_TERM_ID = {"Convolution": 5, "ConvolutionDepthWise": 5, "InnerProduct": 1}
STATIC_TERM = 2                                                               # spec 6.4
GEMM_TRANS_A, GEMM_TRANS_B, GEMM_CONSTANT_A, GEMM_CONSTANT_B = 2, 3, 4, 5
GEMM_M, GEMM_N, GEMM_K = 7, 8, 9


def float2int8(x):
    """ncnn's x86 float2int8 on float32: clamp(trunc(x + copysign(0.5, x)), -127, 127) (spec 7.2)."""
    x = np.asarray(x, np.float32)
    return np.clip(np.trunc(x + np.copysign(np.float32(0.5), x)), -127, 127).astype(np.int8)


QUANTIZE_BLOCK = 1 << 20     # values quantized at a time (vgg16's fc6 has 103 M: no 400 MB temporaries)


def quantize_rows(rows, scales):
    """int8 of each row times its scale, in float32 (ncnn's quantize_to_int8), flattened; the same
    float32 operations as float2int8, on blocks of rows in place."""
    rows = np.asarray(rows, np.float32)
    rows = rows.reshape(len(rows), -1) if rows.ndim != 2 else rows
    scales = np.asarray(scales, np.float32).reshape(-1, 1)
    out = np.empty(rows.shape, np.int8)
    step = max(1, QUANTIZE_BLOCK // max(rows.shape[1], 1))
    for start in range(0, len(rows), step):
        x = rows[start:start + step] * scales[start:start + step]
        x += np.copysign(np.float32(0.5), x)
        np.trunc(x, out=x)
        np.clip(x, -127, 127, out=x)
        out[start:start + step] = x
    return out.reshape(-1)


def absmax_scale(rows):
    """127/absmax per row in float32, 1.0 for an all-zero row: ncnn2int8's Gemm scales (spec 6.4)."""
    absmax = np.abs(np.asarray(rows, np.float32)).max(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(absmax == 0, np.float32(1), np.float32(127) / absmax).astype(np.float32)


def refuse_int8(graph):
    """An input model with an int8 layer is an error: model2int8 needs a float model."""
    for layer in graph:
        term = layer.params.get(TERM_ID.get(layer.type, -1), 0)
        stored = [name for name, w in layer.weights.items() if np.asarray(w).dtype == np.int8]
        if term or stored:
            what = "%d=%d" % (TERM_ID[layer.type], term) if term else "int8 weights"
            raise NcnnlikeError("layer %s (%s) is already int8 (%s): model2int8 needs a float model"
                                % (layer.name, layer.type, what))


def quantize_conv(layer, scales, adjust=None):
    """Convolution / ConvolutionDepthWise / InnerProduct: int8 weights, bias, weight and bottom scales.
    `adjust` (adjustfile.LayerAdjust made for these scales) replaces the rounded weights and/or bias."""
    weight = np.asarray(next(iter(layer.weights.values())), np.float32).reshape(scales.weight.size, -1)
    bias = list(layer.weights.values())[1:]  # a float layer has only weight_data and the bias
    q_weight = quantize_rows(weight, scales.weight)
    if adjust is not None and adjust.weight_int8 is not None:
        if adjust.weight_int8.size != q_weight.size:
            raise NcnnlikeError("layer %s: the adjustment holds %d int8 weights, the layer has %d"
                                % (layer.name, adjust.weight_int8.size, q_weight.size))
        q_weight = adjust.weight_int8.astype(np.int8).reshape(-1)
    if adjust is not None and adjust.bias is not None:
        layer.params[BIAS_TERM_ID[layer.type]] = 1
        bias = [np.asarray(adjust.bias, np.float32)]
    layer.params[TERM_ID[layer.type]] = INT8_TERM[layer.type]
    assign_weights(layer, [q_weight] + bias + [scales.weight, scales.bottom])


def quantize_static(layer, scale_lists):
    """Embed, MultiHeadAttention, RNN/LSTM/GRU: row-wise int8 weights with the table's scales (6.4)."""
    buffers = list(layer.weights.values())
    positions = {"Embed": [0], "MultiHeadAttention": [0, 2, 4, 6]}.get(layer.type, [0, 2])
    for position, rows, scales in zip(positions, static_rows(layer), scale_lists):
        buffers[position] = quantize_rows(rows, scales)
    layer.params[TERM_ID[layer.type]] = STATIC_TERM
    assign_weights(layer, buffers + list(scale_lists))


def quantize_gemm(layer):
    """Gemm: constant A per row (after transA -> 0), constant B with one scale (after transB -> 1) (6.4)."""
    params = layer.params
    m, n, k = params.get(GEMM_M, 0), params.get(GEMM_N, 0), params.get(GEMM_K, 0)
    buffers = list(layer.weights.values())
    scales = []
    constant_a = params.get(GEMM_CONSTANT_A, 0)
    if constant_a:
        a = np.asarray(buffers[0]).astype(np.float32)
        a = a.reshape(k, m).T if params.get(GEMM_TRANS_A, 0) else a.reshape(m, k)
        params[GEMM_TRANS_A] = 0
        scales.append(absmax_scale(a))
        buffers[0] = quantize_rows(a, scales[-1])
    if params.get(GEMM_CONSTANT_B, 0):
        b_pos = 1 if constant_a else 0
        b = np.asarray(buffers[b_pos]).astype(np.float32)
        b = b.reshape(n, k) if params.get(GEMM_TRANS_B, 0) else b.reshape(k, n).T
        params[GEMM_TRANS_B] = 1
        scales.append(absmax_scale(b.reshape(1, -1)))
        buffers[b_pos] = quantize_rows(b.reshape(1, -1), scales[-1])
    params[TERM_ID["Gemm"]] = STATIC_TERM
    assign_weights(layer, buffers + scales)


def usable_adjustments(plan, adjust, log):
    """The entries of a weights-adjustment file (adjustfile.read_adjust) that fit the table's plan:
    made for the scales the table gives the layer. Others are left out with a log line."""
    usable = {}
    for name, entry in (adjust or {}).items():
        scales = plan.conv.get(name)
        if scales is None:
            log.append("adjust: layer %s stays float or is not in the model: its %s is not used" % (name, entry.what()))
        elif not entry.matches(scales.weight, scales.bottom):
            log.append("warning: adjust: layer %s: the table's scales differ from those the %s was made for: "
                       "not applied (run model2table again)" % (name, entry.what()))
        else:
            usable[name] = entry
    return usable


def _shared_weights_copy(graph):
    """A copy of the graph whose layers, params and weight dicts are new but whose weight arrays are
    the input's: the conversion replaces arrays, never writes into one, and copying vgg16's 553 MB
    of weights only to replace most of them cost as much memory and time as the conversion."""
    from ncnnlike.graph import Graph, Layer
    return Graph([Layer(l.type, l.name, list(l.bottoms), list(l.tops), l.params.copy(), dict(l.weights),
                        None if l.shape_hints is None else list(l.shape_hints)) for l in graph.layers])


def quantize_graph(graph, table=None, adjust=None, fuse=True):
    """model2int8 on a Graph: (quantized copy, log lines). Log lines are ncnn's progress lines
    (`quantize_convolution x`, `fuse_requantize a b`, the latter only when a fusion happens) and
    warnings prefixed `warning: `. `table` is a tablefile.Table or None (then only Gemm/SDPA);
    `adjust` the weights-adjustment entries model2table wrote (adjustfile.read_adjust) or None;
    fuse=False skips fuse_requantize (every int8 top stays float: for caching activations)."""
    refuse_int8(graph)
    plan = apply_table(graph, table)
    out = _shared_weights_copy(graph)
    log = ["warning: " + w for w in plan.warnings]
    adjustments = usable_adjustments(plan, adjust, log)
    for layer in out:
        if layer.name in plan.conv:
            quantize_conv(layer, plan.conv[layer.name], adjustments.get(layer.name))
        elif layer.name in plan.static:
            quantize_static(layer, plan.static[layer.name])
        elif layer.type == "Gemm":
            quantize_gemm(layer)
        elif layer.type == "SDPA":
            layer.params[TERM_ID["SDPA"]] = STATIC_TERM
        else:
            continue
        log.append("quantize_%s %s" % (layer.type.lower(), layer.name))
        if layer.name in adjustments:
            log.append("adjust_%s %s (%s)" % (layer.type.lower(), layer.name, adjustments[layer.name].what()))
    fused, warnings = fuse_requantize(out) if fuse else ([], [])
    log += ["warning: " + w for w in warnings]
    log += ["fuse_requantize %s %s" % pair for pair in fused]
    return out, log


def quantized_layers(graph):
    """Names of the layers that carry an int8 flag, in order (for reports and tests)."""
    return [layer.name for layer in graph
            if layer.type in TERM_ID and layer.params.get(TERM_ID[layer.type], 0)]
