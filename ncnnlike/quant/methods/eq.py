"""method=eq: ncnn2table's EQ search (spec 5.8), the intended algorithm, vectorised.

Start from the KL table. For each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) in
param order, for each weight scale s (per output channel, per group for ConvolutionDepthWise), then
the bottom scale: try the 100 candidates float32(0.5s + k*(2s - 0.5s)/100), k = 0..99; run the layer
alone in int8 (spec 8: quantize the fp32 bottom with the bottom scale, round half away, clamp +-127;
int8 weights; int32 accumulation; * 1/(s_in*s_w) + bias; fused activation; no requantize) on each of
the first <= 50 samples; compare with the fp32 top blob by cosine similarity; sum over samples.

Order: exactly ncnn's in-place sequential order (weight scale 0, 1, ..., then the bottom scale, each
seeing the already updated ones). This is exact and still vectorised because a weight scale of unit
u only changes unit u's output channels: for every unit and candidate at once we compute that
channel's dot product with the fp32 top and its squared norm (one float Conv, exact on integer
values, whose output channels are the candidate-quantized weight rows), then walk the units in
order, replacing unit u's contribution in each sample's dot product and norm.

Difference from ncnn (which takes the best candidate whenever its sum is > 0, even if below the
current scale's): a candidate replaces s only if its sum is > 0 and strictly above the sum of s
itself, so every step can only raise the objective and the result is never worse than KL.
The int8 layer runs in onnxruntime (a small ONNX graph per layer); memory is bounded by chunking
candidates, units and samples (_RUN_ELEMENTS floats per run, _BLOB_BYTES of fetched blobs).
"""
import math
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper
from tqdm import tqdm

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import resolve
from ncnnlike.layers.convolution import pads_and_out
from ncnnlike.layers.lowering import OPSET, LowerCtx

CANDIDATES = 100
EQ_SAMPLES = 50
_RUN_ELEMENTS = 1 << 21      # floats of conv output (and candidate weights) per onnxruntime run
_BLOB_BYTES = 1 << 29        # fp32 bottoms + tops of the samples fetched by one net run
_FETCH_BATCH = 10            # samples per net run while fetching blobs


def candidate_scales(scale):
    """ncnn's 100 candidates for a scale: lower + k*step, lower = 0.5s, step = (2s - 0.5s)/100 (float32)."""
    s = np.asarray(scale, np.float32)[..., None]
    lower, upper = s * np.float32(0.5), s * np.float32(2.0)
    step = (upper - lower) / np.float32(CANDIDATES)
    return (lower + np.arange(CANDIDATES, dtype=np.float32) * step).astype(np.float32)


def quantize(x, scale):
    """ncnn float2int8 of x*scale as float32 integers (spec 7.2: trunc(v + copysign(0.5, v)), +-127)."""
    v = np.asarray(x, np.float32) * np.float32(scale)
    return np.clip(np.trunc(v + np.copysign(np.float32(0.5), v)), -127, 127).astype(np.float32)


@dataclass
class Int8Layer:
    """A conv layer as the search sees it: float weights (num_output, ing, kh, kw) and ONNX Conv
    attributes; its ncnn bottom maps to NCHW (n, *in_chw) and its top to (n, num_output, pixels)."""
    name: str
    weight: np.ndarray
    bias: np.ndarray
    units: int                # number of weight scales (output channels, or groups if depthwise)
    depthwise: bool           # unit u reads only input channels [u*ing, (u+1)*ing)
    conv: dict                # kernel_shape, strides, dilations
    pads: list                # [top, left, bottom, right], applied to the quantized bottom
    pad_q: float              # ncnn pads the int8 tensor with (int8)pad_value (spec 8 step 2)
    activation: tuple         # (activation_type, activation_params)
    in_chw: tuple             # NCHW bottom without the batch axis
    rows: bool = False        # InnerProduct on a 2-D (rows, num_input) bottom: one output row per row

    @property
    def per_unit(self):
        """Output channels per weight scale."""
        return self.weight.shape[0] // self.units

    @property
    def group(self):
        """ONNX Conv groups of the whole layer."""
        return self.units if self.depthwise else 1

    def bottom_nchw(self, x):
        if self.rows:
            return np.ascontiguousarray(np.swapaxes(x, 1, 2)[:, :, None, :])
        return np.ascontiguousarray(x.reshape((x.shape[0],) + tuple(self.in_chw)), np.float32)

    def top_ncp(self, y):
        if self.rows:
            y = np.swapaxes(y, 1, 2)
        return np.ascontiguousarray(y.reshape(y.shape[0], self.weight.shape[0], -1), np.float32)


def int8_layer(layer, bottom_shape):
    """The Int8Layer of a Convolution, ConvolutionDepthWise or InnerProduct with ncnn bottom shape."""
    from ncnnlike.quant.weights import conv_weight
    p = resolve(layer)
    w = conv_weight(layer)
    bias = layer.weight("bias_data") if p.bias_term else np.zeros(p.num_output, np.float32)
    activation = (p.activation_type, list(p.activation_params or []))
    bottom_shape = tuple(bottom_shape)
    if layer.type == "InnerProduct":
        num_input = p.weight_data_size // p.num_output
        rows = len(bottom_shape) == 2 and bottom_shape[1] == num_input
        if not rows and int(np.prod(bottom_shape)) != num_input:
            raise NcnnlikeError("layer %s: bottom shape %s does not match %d weights per output"
                                % (layer.name, bottom_shape, num_input))
        in_chw = (num_input, 1, bottom_shape[0]) if rows else (num_input, 1, 1)
        return Int8Layer(layer.name, w.reshape(p.num_output, num_input, 1, 1), bias, p.num_output, False,
                         {"kernel_shape": [1, 1]}, [0, 0, 0, 0], 0.0, activation, in_chw, rows)
    if len(bottom_shape) != 3:
        raise NcnnlikeError("layer %s: method=eq needs a (c, h, w) bottom, got shape %s" % (layer.name, bottom_shape))
    c, h, wd = bottom_shape
    depthwise = layer.type == "ConvolutionDepthWise"
    group = p.group if depthwise else 1
    if group < 1 or c % group or p.num_output % group or w.size != p.num_output * (c // group) * p.kernel_h * p.kernel_w:
        raise NcnnlikeError("layer %s: %d weights do not fit %d input channels, num_output %d, group %d"
                            % (layer.name, w.size, c, p.num_output, group))
    pads, _ = pads_and_out(p, h, wd)
    conv = {"kernel_shape": [p.kernel_h, p.kernel_w], "strides": [p.stride_h, p.stride_w],
            "dilations": [p.dilation_h, p.dilation_w]}
    pad_q = float(np.trunc(np.clip(np.float32(p.pad_value), -128, 127)))
    return Int8Layer(layer.name, w.reshape(p.num_output, c // group, p.kernel_h, p.kernel_w), bias,
                     group if depthwise else p.num_output, depthwise, conv, pads, pad_q, activation, bottom_shape)


# ---------------------------------------------------------------- int8 graphs (onnxruntime)

_FLOAT, _INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64


def _session(ctx, inputs, threads):
    """An onnxruntime session over the nodes of `ctx` (float inputs, plus int64 `shape`) with outputs d, q."""
    values = [helper.make_tensor_value_info(n, _INT64 if n == "shape" else _FLOAT, None) for n in inputs]
    outputs = [helper.make_tensor_value_info(n, _FLOAT, None) for n in ("d", "q")]
    graph = helper.make_graph(ctx.nodes, "eq", values, outputs, ctx.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _int8_tail(ctx, spec, q, w, group, reshape_first):
    """Conv of int8 values (as float: exact) with int8 weights, * a + b, fused activation (spec 8
    steps 3-6), reshaped by the `shape` input before or after the dequantization."""
    v = ctx.op("Conv", [q, w], group=group, pads=[0, 0, 0, 0], **spec.conv)
    if reshape_first:
        v = ctx.op("Reshape", [v, "shape"])
    v = lower_fused(ctx, ctx.op("Add", [ctx.op("Mul", [v, "a"]), "b"]), *spec.activation)
    return v if reshape_first else ctx.op("Reshape", [v, "shape"])


def weight_search_session(spec, group, threads):
    """x (n, cin, hp, wp) quantized and padded bottom, w (M, ing, kh, kw) candidate int8 weight rows,
    a, b (M, 1, 1), y (n, U, L, 1), shape [n, U, K1, L] -> d = <out, y> (n, U, K1, 1), q = |out|^2."""
    ctx = LowerCtx(int8=False)
    out = _int8_tail(ctx, spec, "x", "w", group, False)
    ctx.nodes.append(helper.make_node("MatMul", [out, "y"], ["d"]))
    ctx.nodes.append(helper.make_node("ReduceSumSquare", [out], ["q"], axes=[3], keepdims=0))
    return _session(ctx, ["x", "w", "a", "b", "y", "shape"], threads)


def bottom_search_session(spec, threads):
    """x (n, *in_chw) fp32, s (Kc, 1, 1, 1, 1) candidate bottom scales, w (C, ing, kh, kw) int8 weights,
    a (Kc, 1, C, 1), b (C, 1), y (n, C, P), shape [Kc, n, C, P] -> d, q per (Kc, n, C)."""
    ctx = LowerCtx(int8=False)
    v = ctx.op("Mul", [ctx.op("Unsqueeze", ["x", ctx.ints([0])]), "s"])
    v = ctx.op("Clip", [v, ctx.const(np.float32(-127)), ctx.const(np.float32(127))])
    magnitude = ctx.op("Floor", [ctx.op("Add", [ctx.op("Abs", [v]), ctx.const(np.float32(0.5))])])
    q = ctx.op("Mul", [ctx.op("Sign", [v]), magnitude])          # round half away from zero
    q = ctx.op("Reshape", [q, ctx.ints((-1,) + tuple(spec.in_chw))])
    if any(spec.pads):
        t, left, b, r = spec.pads
        q = ctx.op("Pad", [q, ctx.ints([0, 0, t, left, 0, 0, b, r]), ctx.const(np.float32(spec.pad_q))])
    out = _int8_tail(ctx, spec, q, "w", spec.group, True)
    ctx.nodes.append(helper.make_node("ReduceSum", [ctx.op("Mul", [out, "y"]), ctx.ints([3])], ["d"], keepdims=0))
    ctx.nodes.append(helper.make_node("ReduceSumSquare", [out], ["q"], axes=[3], keepdims=0))
    return _session(ctx, ["x", "s", "w", "a", "b", "y", "shape"], threads)


# ---------------------------------------------------------------- the search

def cosine_sums(d, q, y_norm):
    """Sum over samples (axis 0) of d / (|out| |y|), with |out| = sqrt(q); 0 where a norm is 0."""
    denom = np.sqrt(np.maximum(q, 0.0)) * y_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, d / denom, 0.0).sum(axis=0)


def _pick(sums):
    """Index of the best of the CANDIDATES first entries if its sum is > 0 and above the current
    (last entry) sum, else the current index."""
    best = int(np.argmax(sums[:CANDIDATES]))
    return best if sums[best] > 0 and sums[best] > sums[-1] else len(sums) - 1


def weight_contributions(spec, xq, y3, bottom_scale, scales, threads):
    """d, q (n, units, K1) float64: each unit's output channels under each of its candidate weight
    scales `scales` (units, K1), dotted with the fp32 top and squared. xq: quantized padded bottom."""
    n, units, k1 = xq.shape[0], spec.units, scales.shape[1]
    og, ing = spec.per_unit, spec.weight.shape[1]
    length = og * y3.shape[2]
    span = int(np.prod(spec.weight.shape[1:]))
    per_run = max(1, min(units, _RUN_ELEMENTS // (k1 * og * max(y3.shape[2], span))))
    per_samples = max(1, min(n, _RUN_ELEMENTS // (per_run * k1 * length)))
    d = np.empty((n, units, k1))
    q = np.empty((n, units, k1))
    sessions = {}
    for u0 in range(0, units, per_run):
        u1 = min(units, u0 + per_run)
        size = u1 - u0
        rows = spec.weight[u0 * og:u1 * og].reshape(size, 1, og, -1)
        wq = quantize(rows, scales[u0:u1, :, None, None]).reshape((size * k1 * og,) + spec.weight.shape[1:])
        a = np.float32(1) / (np.float32(bottom_scale) * scales[u0:u1])
        a = np.repeat(a.reshape(-1), og).reshape(-1, 1, 1)
        b = np.broadcast_to(spec.bias[u0 * og:u1 * og].reshape(size, 1, og), (size, k1, og)).reshape(-1, 1, 1)
        group = size if spec.depthwise else 1
        if group not in sessions:
            sessions[group] = weight_search_session(spec, group, threads)
        x = xq[:, u0 * ing:u1 * ing] if spec.depthwise else xq
        y = y3[:, u0 * og:u1 * og].reshape(n, size, length, 1)
        for n0 in range(0, n, per_samples):
            n1 = min(n, n0 + per_samples)
            feeds = {"x": x[n0:n1], "w": wq, "a": np.ascontiguousarray(a), "b": np.ascontiguousarray(b),
                     "y": np.ascontiguousarray(y[n0:n1]), "shape": np.array([n1 - n0, size, k1, length], np.int64)}
            dd, qq = sessions[group].run(["d", "q"], feeds)
            d[n0:n1, u0:u1] = dd[..., 0]
            q[n0:n1, u0:u1] = qq
    return d, q


def search_weight_scales(d, q, y_norm, scales):
    """Walk the units in order (ncnn's in-place order), each choosing among its candidates with the
    other units at their current scales: returns the chosen scales (units,) float32."""
    current = scales.shape[1] - 1
    cur_d, cur_q = d[:, :, current].copy(), q[:, :, current].copy()
    total_d, total_q = cur_d.sum(axis=1), cur_q.sum(axis=1)
    chosen = scales[:, current].copy()
    for u in range(scales.shape[0]):
        dd = (total_d - cur_d[:, u])[:, None] + d[:, u]
        qq = (total_q - cur_q[:, u])[:, None] + q[:, u]
        best = _pick(cosine_sums(dd, qq, y_norm[:, None]))
        if best != current:
            chosen[u] = scales[u, best]
            total_d += d[:, u, best] - cur_d[:, u]
            total_q += q[:, u, best] - cur_q[:, u]
            cur_d[:, u], cur_q[:, u] = d[:, u, best], q[:, u, best]
    return chosen


def bottom_cosine_sums(spec, x4, y3, y_norm, weight_scales, bottom_scales, threads):
    """Summed cosine over samples (len(bottom_scales),) of the int8 layer for each bottom scale."""
    n, k1 = x4.shape[0], len(bottom_scales)
    og = spec.per_unit
    per_channel = np.repeat(np.asarray(weight_scales, np.float32), og)
    wq = quantize(spec.weight, per_channel[:, None, None, None])
    c, p = y3.shape[1], y3.shape[2]
    padded = spec.in_chw[0] * (spec.in_chw[1] + spec.pads[0] + spec.pads[2]) * (spec.in_chw[2] + spec.pads[1] + spec.pads[3])
    pairs = max(1, _RUN_ELEMENTS // max(c * p, padded))
    per_k = min(k1, pairs)
    per_n = max(1, min(n, pairs // per_k))
    session = bottom_search_session(spec, threads)
    d, q = np.empty((k1, n)), np.empty((k1, n))
    b = np.ascontiguousarray(spec.bias.reshape(c, 1))
    for n0 in range(0, n, per_n):
        n1 = min(n, n0 + per_n)
        for k0 in range(0, k1, per_k):
            s = np.asarray(bottom_scales[k0:k0 + per_k], np.float32)
            a = (np.float32(1) / (s[:, None] * per_channel[None, :])).reshape(len(s), 1, c, 1)
            feeds = {"x": x4[n0:n1], "s": s.reshape(-1, 1, 1, 1, 1), "w": wq, "a": a, "b": b, "y": y3[n0:n1],
                     "shape": np.array([len(s), n1 - n0, c, p], np.int64)}
            dd, qq = session.run(["d", "q"], feeds)
            d[k0:k0 + len(s), n0:n1] = dd.sum(axis=2, dtype=np.float64)
            q[k0:k0 + len(s), n0:n1] = qq.sum(axis=2, dtype=np.float64)
    return cosine_sums(d.T, q.T, y_norm[:, None])


def equalize_layer(spec, bottom, top, weight_scales, bottom_scale, threads=1):
    """EQ of one layer on fp32 bottom/top blobs (n, *ncnn shape): (weight scales, bottom scale,
    summed cosine with the given scales, summed cosine with the chosen ones)."""
    x4, y3 = spec.bottom_nchw(bottom), spec.top_ncp(top)
    y_norm = np.sqrt(np.square(y3, dtype=np.float64).sum(axis=(1, 2)))
    weight_scales = np.asarray(weight_scales, np.float32).reshape(spec.units)
    bottom_scale = np.float32(bottom_scale)
    xq = quantize(x4, bottom_scale)
    if any(spec.pads):
        t, left, b, r = spec.pads
        xq = np.pad(xq, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=spec.pad_q)
    scales = np.concatenate([candidate_scales(weight_scales), weight_scales[:, None]], axis=1)
    d, q = weight_contributions(spec, xq, y3, bottom_scale, scales, threads)
    before = float(cosine_sums(d[:, :, -1].sum(axis=1), q[:, :, -1].sum(axis=1), y_norm))
    weight_scales = search_weight_scales(d, q, y_norm, scales)
    bottom_scales = np.append(candidate_scales(bottom_scale), bottom_scale)
    sums = bottom_cosine_sums(spec, x4, y3, y_norm, weight_scales, bottom_scales, threads)
    best = _pick(sums)
    return weight_scales, np.float32(bottom_scales[best]), before, float(sums[best])


# ---------------------------------------------------------------- the table

def _blob_shapes(graph, inputs, blobs):
    """ncnn shape (no batch) of each blob, from the runtime's lowering."""
    from ncnnlike.runtime.lower import lower_graph
    _, _, ctx = lower_graph(graph, {k: v.shape[1:] for k, v in inputs.items()}, blobs, int8=False)
    return {blob: ctx.shape(blob) for blob in blobs}


def _fetch_groups(layers, shapes, samples):
    """Consecutive layers whose fp32 bottoms and tops for `samples` samples fit in _BLOB_BYTES."""
    group, size = [], 0
    for layer in layers:
        need = 4 * samples * sum(int(np.prod(shapes[b])) for b in (layer.bottoms[0], layer.tops[0]))
        if group and size + need > _BLOB_BYTES:
            yield group
            group, size = [], 0
        group.append(layer)
        size += need
    if group:
        yield group


def _fetch(net, inputs, blobs):
    """blob -> fp32 array (n, *shape) of every sample, run in batches of _FETCH_BATCH."""
    n = len(next(iter(inputs.values())))
    out = {}
    for n0 in range(0, n, _FETCH_BATCH):
        result = net.run({k: v[n0:n0 + _FETCH_BATCH] for k, v in inputs.items()}, blobs)
        for blob, array in result.items():
            if blob not in out:
                out[blob] = np.empty((n,) + array.shape[1:], np.float32)
            out[blob][n0:n0 + len(array)] = array
    return out


def equalize_table(net, lists, preprocess, stats, threads=1, progress=True):
    """The KL table of `net.graph` with every conv layer's weight and bottom scales refined by EQ on the
    first <= 50 samples of `lists`: (weight lines, blob lines, static lines) like compute_table."""
    from ncnnlike.quant.images import iter_batches
    from ncnnlike.quant.methods import compute_table
    from ncnnlike.quant.weights import CONV_TYPES
    graph = net.graph
    weight_lines, blob_lines, static_lines = compute_table(graph, stats, "kl")
    layers = [layer for layer in graph if layer.type in CONV_TYPES]
    count = min(len(lists[0]), EQ_SAMPLES)
    inputs = next(iter_batches([entries[:count] for entries in lists], preprocess, count, threads))
    blobs = list(dict.fromkeys(b for layer in layers for b in (layer.bottoms[0], layer.tops[0])))
    shapes = _blob_shapes(graph, inputs, blobs)
    with tqdm(total=len(layers), desc="eq search", unit="layer", disable=not progress) as bar:
        for group in _fetch_groups(layers, shapes, count):
            fetched = _fetch(net, inputs, list(dict.fromkeys(b for l in group for b in (l.bottoms[0], l.tops[0]))))
            for layer in group:
                bar.set_postfix_str(layer.name)
                key = layer.name + "_param_0"
                spec = int8_layer(layer, shapes[layer.bottoms[0]])
                weights, bottom, _, _ = equalize_layer(spec, fetched[layer.bottoms[0]], fetched[layer.tops[0]],
                                                       weight_lines[key], blob_lines[layer.name][0], threads)
                weight_lines[key] = weights
                blob_lines[layer.name] = np.array([bottom], np.float32)
                bar.update(1)
    return weight_lines, blob_lines, static_lines
