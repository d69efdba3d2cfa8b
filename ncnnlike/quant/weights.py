"""Weight scales of the calibration table (spec 5.4, 5.6 weights, 5.7), with the zero guard ncnn lacks.

Convolution: one scale per output channel, 31/absmax for a 3x3 kernel with dilation 1 and stride 1
(ncnn's 6-bit rule for its int8 Winograd F(4,3) kernels), else 127/absmax. ConvolutionDepthWise: one
127/absmax per group. InnerProduct: one 127/absmax per output row. With method aciq the absmax is
replaced by the Gaussian clipping threshold over the channel's N weights (6 bits where 31 is used).
An all-zero channel gets scale 1.0 (ncnn writes inf, spec 5.4 QUIRK). All arithmetic is float32
like ncnn's, so the printed `%f` digits match ncnn2table's.
"""
import math
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import resolve
from ncnnlike.quant.methods.aciq import ALPHA_GAUSSIAN, GAUSSIAN_CONST

CONV_TYPES = ("Convolution", "ConvolutionDepthWise", "InnerProduct")
RNN_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def guarded_scale(numerator, absmax):
    """float32 numerator / absmax per element; 1.0 where absmax is 0 (or the result is not finite)."""
    absmax = np.asarray(absmax, np.float32)
    with np.errstate(divide="ignore", over="ignore"):
        scale = np.float32(numerator) / absmax
    return np.where(np.isfinite(scale) & (absmax > 0), scale, np.float32(1.0)).astype(np.float32)


def row_absmax(weights, rows, where):
    """max |w| over each of `rows` equal contiguous slices of the weight buffer (float32)."""
    w = np.asarray(weights, np.float32).reshape(-1)
    if rows <= 0 or w.size % rows:
        raise NcnnlikeError("%s: %d weights do not split into %d equal rows" % (where, w.size, rows))
    return np.abs(w).reshape(rows, -1).max(axis=1) if w.size else np.zeros(rows, np.float32)


def aciq_thresholds(absmax, n, bits):
    """Vectorised aciq.gaussian_clip: float32(alpha * absmax*2*G / sqrt(2 ln n)), double inside."""
    absmax = np.asarray(absmax, np.float32)
    if n <= 1:
        return absmax
    std = (absmax * np.float32(2)).astype(np.float64) * GAUSSIAN_CONST / math.sqrt(2 * math.log(n))
    return (np.float64(ALPHA_GAUSSIAN[bits - 1]) * std).astype(np.float32)


def conv_weight(layer):
    """The float32 weight_data of a conv layer, refusing weights already stored as int8."""
    if "weight_data" not in layer.weights:
        raise NcnnlikeError("layer %s: no weight_data (dynamic weights cannot be calibrated)" % layer.name)
    if layer.weights["weight_data"].dtype == np.int8:
        raise NcnnlikeError("layer %s: weights are already int8" % layer.name)
    return layer.weight("weight_data")


def is_six_bit(layer):
    """ncnn's 6-bit rule applies: Convolution 3x3, dilation 1, stride 1 (weights kept within +-31 so
    the int8 Winograd F(4,3) kernels' transformed weights fit in int16; spec 5.4, 8)."""
    if layer.type != "Convolution":
        return False
    p = resolve(layer)
    return (p.kernel_w, p.kernel_h, p.dilation_w, p.dilation_h, p.stride_w, p.stride_h) == (3, 3, 1, 1, 1, 1)


def weight_scales(layer, method="kl"):
    """The `<layer>_param_0` values of a Convolution, ConvolutionDepthWise or InnerProduct layer."""
    if layer.type not in CONV_TYPES:
        raise NcnnlikeError("layer %s: type %s has no per-channel weight scales" % (layer.name, layer.type))
    p = resolve(layer)
    six_bit = is_six_bit(layer)
    rows = p.group if layer.type == "ConvolutionDepthWise" else p.num_output
    weights = conv_weight(layer)
    if weights.size != p.weight_data_size:
        raise NcnnlikeError("layer %s: %d weights, but weight_data_size is %d"
                            % (layer.name, weights.size, p.weight_data_size))
    absmax = row_absmax(weights, rows, "layer " + layer.name)
    if method == "aciq":
        absmax = aciq_thresholds(absmax, weights.size // rows, 6 if six_bit else 8)
    return guarded_scale(31 if six_bit else 127, absmax)


def conv_weight_lines(graph, method="kl"):
    """OrderedDict `<layer>_param_0` -> scales for every conv layer, in param order (spec 5.9 item 1)."""
    return OrderedDict((layer.name + "_param_0", weight_scales(layer, method))
                       for layer in graph if layer.type in CONV_TYPES)


def _buffers(layer, count):
    """The first `count` weight buffers in .bin order, as float32."""
    buffers = [np.asarray(w).astype(np.float32) for w in layer.weights.values()]
    if len(buffers) < count:
        raise NcnnlikeError("layer %s: expected %d weight buffers, found %d" % (layer.name, count, len(buffers)))
    return buffers


def embed_scales(layer):
    """Embed: one scale over all weights (spec 5.7)."""
    return guarded_scale(127, [np.abs(_buffers(layer, 1)[0]).max(initial=0)])


def mha_scales(layer):
    """MultiHeadAttention: per-row q, k, v scales (embed_dim rows each) and one out scale (spec 5.7)."""
    q_w, _, k_w, _, v_w, _, out_w = _buffers(layer, 7)[:7]
    embed_dim = layer.params.get(0, 0)
    where = "layer " + layer.name
    return [guarded_scale(127, row_absmax(q_w, embed_dim, where)),
            guarded_scale(127, row_absmax(k_w, embed_dim, where)),
            guarded_scale(127, row_absmax(v_w, embed_dim, where)),
            guarded_scale(127, [np.abs(out_w).max(initial=0)])]


def rnn_scales(layer):
    """RNN/LSTM/GRU: per-row xc and hc scales, index d*rows + q over directions d (spec 5.7)."""
    num_output = layer.params.get(0, 0)
    directions = 2 if layer.params.get(2, 0) == 2 else 1
    hidden = layer.params.get(3, num_output) if layer.type == "LSTM" else num_output
    rows = directions * hidden * RNN_GATES[layer.type]
    weight_xc, _, weight_hc = _buffers(layer, 3)[:3]
    where = "layer " + layer.name
    return [guarded_scale(127, row_absmax(weight_xc, rows, where)),
            guarded_scale(127, row_absmax(weight_hc, rows, where))]


def static_weight_lines(graph):
    """`<layer>_param_N` lines of the weight-only layers: Embed, MultiHeadAttention, then RNN, LSTM,
    GRU, each in param order (spec 5.9 items 3-5)."""
    lines = OrderedDict()
    for types, fn in ((("Embed",), embed_scales), (("MultiHeadAttention",), mha_scales),
                      (("RNN",), rnn_scales), (("LSTM",), rnn_scales), (("GRU",), rnn_scales)):
        for layer in graph:
            if layer.type in types:
                scales = fn(layer)
                scales = [scales] if fn is embed_scales else scales
                for n, values in enumerate(scales):
                    lines["%s_param_%d" % (layer.name, n)] = values
    return lines
