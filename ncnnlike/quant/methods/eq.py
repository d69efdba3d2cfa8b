"""method=eq: ncnn2table's EQ search (spec 5.8), the intended algorithm, vectorised.

Start from the KL table. For each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) in
param order, for each weight scale s (per output channel, per group for ConvolutionDepthWise), then
the bottom scale: try the 100 candidates float32(0.5s + k*(2s - 0.5s)/100), k = 0..99; run the layer
alone in int8 (spec 8: quantize the fp32 bottom with the bottom scale, trunc(v + copysign(0.5, v))
clamped to +-127; int8 weights; int32 accumulation; float(sum) * 1/(s_in*s_w) + bias; fused
activation; no requantize) on each of the first <= 50 samples; compare with the fp32 top blob by
cosine similarity over the whole blob; sum over samples; take the best.

Order: exactly ncnn's in-place sequential order (weight scale 0, 1, ..., then the bottom scale, each
seeing the already updated ones). This stays exact when vectorised because a weight scale of unit u
only changes unit u's output channels: for all units and candidates at once we compute each unit's
channel outputs (one int8 GEMM, or one float Conv on integer values, whose output channels are the
candidate-quantized weight rows), keep per sample and candidate that channel's dot product with the
fp32 top and its squared norm, then walk the units in order, replacing unit u's share of each
sample's dot product and norm. The bottom scale search runs the whole layer once per candidate.

Difference from ncnn (which takes the best candidate whenever its sum is > 0, even if below the
current scale's): a candidate replaces s only if its sum is > 0 and above the sum of s itself, so
each step can only raise the objective and the result is never worse than KL.

Execution: small onnxruntime graphs per layer. 1x1 convolutions and InnerProduct use MatMulInteger
with uint8 operands (zero point 128, exact int32); other convolutions a float Conv on integer values
(exact while partial sums stay below 2^24). Memory is bounded by chunking units, samples, pixels
and candidates (_RUN_ELEMENTS values per run) and by fetching the fp32 blobs of a few layers at a
time (_BLOB_BYTES).
"""
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
_RUN_ELEMENTS = 1 << 20      # values of the widest tensor of one onnxruntime run
_WEIGHT_ELEMENTS = 1 << 24   # candidate weight values per run
_BLOB_BYTES = 1 << 29        # fp32 bottoms + tops of the samples fetched by one net run
_FETCH_BATCH = 10            # samples per net run while fetching blobs
_FLOAT, _INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64


def candidate_scales(scale):
    """ncnn's 100 candidates for a scale: lower + k*step, lower = 0.5s, step = (2s - 0.5s)/100 (float32)."""
    s = np.asarray(scale, np.float32)[..., None]
    lower, upper = s * np.float32(0.5), s * np.float32(2.0)
    step = (upper - lower) / np.float32(CANDIDATES)
    return (lower + np.arange(CANDIDATES, dtype=np.float32) * step).astype(np.float32)


def quantize(x, scale):
    """ncnn float2int8 of x*scale as float32 integers (spec 7.2: trunc(v + copysign(0.5, v)), +-127)."""
    v = np.asarray(x, np.float32) * np.asarray(scale, np.float32)
    return np.clip(np.trunc(v + np.copysign(np.float32(0.5), v)), -127, 127).astype(np.float32)


def as_uint8(q):
    """int8 values (as float) -> uint8 q + 128, the operand MatMulInteger takes with zero point 128."""
    return (q + 128).astype(np.uint8)


@dataclass
class Int8Layer:
    """A conv layer as the search sees it: float weights (num_output, ing, kh, kw) and ONNX Conv
    attributes; `bottom` maps its ncnn bottom to NCHW (n, c, h, w), or for `pointwise` layers (1x1
    Convolution without padding, InnerProduct) to (n, J, pixels); `top` maps its top to (n, C, pixels)."""
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
    pointwise: bool = False
    rows: bool = False        # InnerProduct on a 2-D (rows, num_input) bottom: one output row per row

    @property
    def per_unit(self):
        """Output channels per weight scale."""
        return self.weight.shape[0] // self.units

    def bottom(self, x):
        if self.rows:
            return np.ascontiguousarray(np.swapaxes(x, 1, 2))
        x = x.reshape((x.shape[0],) + tuple(self.in_chw))
        if self.pointwise:
            sh, sw = self.conv["strides"]
            x = x[:, :, ::sh, ::sw].reshape(x.shape[0], x.shape[1], -1)
        return np.ascontiguousarray(x, np.float32)

    def top(self, y):
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
                         {"strides": [1, 1]}, [0, 0, 0, 0], 0.0, activation, in_chw, True, rows)
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
    pointwise = not depthwise and (p.kernel_h, p.kernel_w) == (1, 1) and not any(pads)
    return Int8Layer(layer.name, w.reshape(p.num_output, c // group, p.kernel_h, p.kernel_w), bias,
                     group if depthwise else p.num_output, depthwise, conv, pads,
                     float(np.trunc(np.clip(np.float32(p.pad_value), -128, 127))), activation, bottom_shape,
                     pointwise)


# ---------------------------------------------------------------- int8 graphs (onnxruntime)

def _session(ctx, inputs, threads):
    """An onnxruntime session over the nodes of `ctx` with outputs d and q; inputs {name: elem type}."""
    values = [helper.make_tensor_value_info(n, t, None) for n, t in inputs.items()]
    outputs = [helper.make_tensor_value_info(n, _FLOAT, None) for n in ("d", "q")]
    graph = helper.make_graph(ctx.nodes, "eq", values, outputs, ctx.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _tail(ctx, spec, v, dequantized, shared_y):
    """Dequantize (* a), + b, fused activation (spec 8 steps 4-6), reshape by `shape` to (..., L);
    then each row's squared norm -> q and its dot product with y -> d, where y (..., L, 1) is shared
    by the rows of each matrix (one MatMul) or y (..., L) has one row per row."""
    if not dequantized:
        v = ctx.op("Mul", [v, "a"])
    v = lower_fused(ctx, ctx.op("Add", [v, "b"]), *spec.activation)
    v = ctx.op("Reshape", [v, "shape"])
    if shared_y:
        ctx.nodes.append(helper.make_node("MatMul", [v, "y"], ["d"]))
    else:
        ctx.nodes.append(helper.make_node("ReduceSum", [ctx.op("Mul", [v, "y"]), ctx.ints([-1])], ["d"], keepdims=0))
    ctx.nodes.append(helper.make_node("ReduceSumSquare", [v], ["q"], axes=[-1], keepdims=0))
    return ctx


def _int_gemm(ctx, w, x):
    """Exact int32 W @ X of uint8 operands holding int8 + 128."""
    zero = ctx.const(np.uint8(128))
    return ctx.op("MatMulInteger", [w, x, zero, zero])


def weight_search_session(spec, group, threads):
    """d, q (n, U, K1[, 1]) of candidate weight rows w for a quantized bottom x. Pointwise: x (n, J, Pc)
    uint8, w (M, J) uint8, a (M,); conv: x (n, cin, hp, wp) padded, w (M, ing, kh, kw), a (M, 1, 1).
    b like a (pointwise: (M, 1)), y (n, U, L, 1), shape [n, U, K1, L]."""
    ctx = LowerCtx(int8=False)
    if spec.pointwise:
        acc = ctx.op("DequantizeLinear", [_int_gemm(ctx, "w", "x"), "a"], axis=1)
        inputs = {"x": onnx.TensorProto.UINT8, "w": onnx.TensorProto.UINT8}
    else:
        acc = ctx.op("Conv", ["x", "w"], group=group, pads=[0, 0, 0, 0], **spec.conv)
        inputs = {"x": _FLOAT, "w": _FLOAT}
    _tail(ctx, spec, acc, spec.pointwise, True)
    return _session(ctx, dict(inputs, a=_FLOAT, b=_FLOAT, y=_FLOAT, shape=_INT64), threads)


def _quantize_nodes(ctx, v, half):
    """ncnn float2int8 in onnx: trunc(clip(v + copysign(0.5, v), -127, 127)) as float integers."""
    v = ctx.op("Clip", [ctx.op("Add", [v, half]), ctx.const(np.float32(-127)), ctx.const(np.float32(127))])
    return ctx.op("Cast", [ctx.op("Cast", [v], to=onnx.TensorProto.INT32)], to=_FLOAT)


def bottom_search_session(spec, weight_q, threads):
    """d, q (Kc, n, C) of candidate bottom scales s (Kc, 1, 1, 1[, 1]) for fp32 x with half =
    copysign(0.5, x); weight_q the int8 weights; a (Kc, 1, C, 1), b (C, 1), y (n, C, P), shape
    [Kc, n, C, P]. Pointwise: x (n, J, Pc); conv: x (n, c, h, w)."""
    ctx = LowerCtx(int8=False)
    if spec.pointwise:
        q = _quantize_nodes(ctx, ctx.op("Mul", ["x", "s"]), "half")
        q = ctx.op("QuantizeLinear", [q, ctx.const(np.float32(1)), ctx.const(np.uint8(128))])
        w = ctx.const(as_uint8(weight_q.reshape(weight_q.shape[0], -1)), "w")
        acc = ctx.op("Cast", [_int_gemm(ctx, w, q)], to=_FLOAT)
    else:
        q = _quantize_nodes(ctx, ctx.op("Mul", [ctx.op("Unsqueeze", ["x", ctx.ints([0])]), "s"]), "half")
        q = ctx.op("Reshape", [q, ctx.ints((-1,) + tuple(spec.in_chw))])
        if any(spec.pads):
            t, left, b, r = spec.pads
            q = ctx.op("Pad", [q, ctx.ints([0, 0, t, left, 0, 0, b, r]), ctx.const(np.float32(spec.pad_q))])
        acc = ctx.op("Conv", [q, ctx.const(weight_q, "w")], group=spec.units if spec.depthwise else 1,
                     pads=[0, 0, 0, 0], **spec.conv)
        acc = ctx.op("Reshape", [acc, "shape"])
    _tail(ctx, spec, acc, False, False)
    return _session(ctx, {"x": _FLOAT, "half": _FLOAT, "s": _FLOAT, "a": _FLOAT, "b": _FLOAT, "y": _FLOAT,
                          "shape": _INT64}, threads)


# ---------------------------------------------------------------- the search

def cosine_sums(d, q, y_norm):
    """Sum over samples (axis 0) of d / (|out| |y|), with |out| = sqrt(q); 0 where a norm is 0."""
    denom = np.sqrt(np.maximum(q, 0.0)) * y_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, d / denom, 0.0).sum(axis=0)


def _pick(sums):
    """Index of the best of the CANDIDATES first sums if it is > 0 and above the current (last) sum,
    else the current index (ncnn: first maximum wins)."""
    best = int(np.argmax(sums[:CANDIDATES]))
    return best if sums[best] > 0 and sums[best] > sums[-1] else len(sums) - 1


def _spans(total, step):
    """[(start, stop)] covering range(total) in steps of `step` (at least 1)."""
    step = max(1, int(step))
    return [(i, min(total, i + step)) for i in range(0, total, step)]


def weight_contributions(spec, xq, y3, bottom_scale, scales, threads):
    """d, q (n, units, K1) float64: each unit's output channels under each of its candidate weight
    scales `scales` (units, K1), dotted with the fp32 top y3 (n, C, P) and squared. xq: the quantized
    bottom, padded (conv) or (n, J, P) (pointwise)."""
    n, units, k1 = xq.shape[0], spec.units, scales.shape[1]
    og, ing, pixels = spec.per_unit, spec.weight.shape[1], y3.shape[2]
    row = int(np.prod(spec.weight.shape[1:]))
    per_units = max(1, min(_WEIGHT_ELEMENTS // (k1 * og * row), _RUN_ELEMENTS // (k1 * og * pixels) or 1))
    if spec.pointwise:
        xq = as_uint8(xq)
    d, q = np.zeros((n, units, k1)), np.zeros((n, units, k1))
    sessions = {}
    for u0, u1 in _spans(units, per_units):
        size = u1 - u0
        wq = quantize(spec.weight[u0 * og:u1 * og].reshape(size, 1, og, -1), scales[u0:u1, :, None, None])
        a = np.float32(1) / (np.float32(bottom_scale) * scales[u0:u1])
        a = np.repeat(a.reshape(-1), og)
        b = np.broadcast_to(spec.bias[u0 * og:u1 * og].reshape(size, 1, og), (size, k1, og)).reshape(-1)
        group = size if spec.depthwise else 1
        if group not in sessions:
            sessions[group] = weight_search_session(spec, group, threads)
        if spec.pointwise:
            feeds = {"w": as_uint8(wq.reshape(size * k1, -1)), "a": a, "b": b.reshape(-1, 1)}
            chunks = [(n0, n1, p0, p1) for n0, n1 in _spans(n, _RUN_ELEMENTS // (size * k1 * pixels))
                      for p0, p1 in _spans(pixels, _RUN_ELEMENTS // (size * k1 * (n1 - n0)))]
        else:
            feeds = {"w": wq.reshape((-1,) + spec.weight.shape[1:]), "a": a.reshape(-1, 1, 1), "b": b.reshape(-1, 1, 1)}
            chunks = [(n0, n1, 0, pixels) for n0, n1 in _spans(n, _RUN_ELEMENTS // (size * k1 * og * pixels))]
        x = xq[:, u0 * ing:u1 * ing] if spec.depthwise else xq
        y = y3[:, u0 * og:u1 * og].reshape(n, size, og, pixels)
        for n0, n1, p0, p1 in chunks:
            length = og * (p1 - p0)
            feeds.update(x=x[n0:n1, :, p0:p1] if spec.pointwise else x[n0:n1],
                         y=np.ascontiguousarray(y[n0:n1, :, :, p0:p1]).reshape(n1 - n0, size, length, 1),
                         shape=np.array([n1 - n0, size, k1, length], np.int64))
            dd, qq = sessions[group].run(["d", "q"], feeds)
            d[n0:n1, u0:u1] += dd[..., 0]
            q[n0:n1, u0:u1] += qq
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


def bottom_cosine_sums(spec, x, y3, y_norm, weight_scales, bottom_scales, threads):
    """Summed cosine over samples (len(bottom_scales),) of the int8 layer for each bottom scale;
    x is spec.bottom() of the fp32 bottom."""
    n, k1, (c, pixels) = x.shape[0], len(bottom_scales), y3.shape[1:]
    per_channel = np.repeat(np.asarray(weight_scales, np.float32), spec.per_unit)
    session = bottom_search_session(spec, quantize(spec.weight, per_channel[:, None, None, None]), threads)
    half = np.copysign(np.float32(0.5), x)
    if spec.pointwise:
        per_pixel = max(x.shape[1], c)
    else:
        per_pixel = max(c * pixels, int(np.prod(spec.in_chw)) * 2) // pixels     # padded input, roughly
    per_k = max(1, min(k1, _RUN_ELEMENTS // (per_pixel * pixels)))
    d, q = np.zeros((k1, n)), np.zeros((k1, n))
    feeds = {"b": np.ascontiguousarray(spec.bias.reshape(c, 1))}
    for k0, k2 in _spans(k1, per_k):
        s = np.asarray(bottom_scales[k0:k2], np.float32)
        feeds.update(s=s.reshape((-1,) + (1,) * (3 if spec.pointwise else 4)),
                     a=(np.float32(1) / (s[:, None] * per_channel[None, :])).reshape(len(s), 1, c, 1))
        rows = _RUN_ELEMENTS // (len(s) * per_pixel)
        for n0, n1 in _spans(n, rows // pixels or 1):
            steps = _spans(pixels, rows // (n1 - n0)) if spec.pointwise else [(0, pixels)]
            for p0, p1 in steps:
                part = (slice(n0, n1), slice(None), slice(p0, p1)) if spec.pointwise else slice(n0, n1)
                feeds.update(x=x[part], half=half[part], y=np.ascontiguousarray(y3[n0:n1, :, p0:p1]),
                             shape=np.array([len(s), n1 - n0, c, p1 - p0], np.int64))
                dd, qq = session.run(["d", "q"], feeds)
                d[k0:k2, n0:n1] += dd.sum(axis=2, dtype=np.float64)
                q[k0:k2, n0:n1] += qq.sum(axis=2, dtype=np.float64)
    return cosine_sums(d.T, q.T, y_norm[:, None])


def equalize_layer(spec, bottom, top, weight_scales, bottom_scale, threads=1):
    """EQ of one layer on fp32 bottom/top blobs (n, *ncnn shape): (weight scales, bottom scale,
    summed cosine with the given scales, summed cosine with the chosen ones)."""
    x, y3 = spec.bottom(bottom), spec.top(top)
    y_norm = np.sqrt(np.square(y3, dtype=np.float64).sum(axis=(1, 2)))
    weight_scales = np.asarray(weight_scales, np.float32).reshape(spec.units)
    bottom_scale = np.float32(bottom_scale)
    xq = quantize(x, bottom_scale)
    if any(spec.pads):
        t, left, b, r = spec.pads
        xq = np.pad(xq, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=spec.pad_q)
    scales = np.concatenate([candidate_scales(weight_scales), weight_scales[:, None]], axis=1)
    d, q = weight_contributions(spec, xq, y3, bottom_scale, scales, threads)
    before = float(cosine_sums(d[:, :, -1].sum(axis=1), q[:, :, -1].sum(axis=1), y_norm))
    weight_scales = search_weight_scales(d, q, y_norm, scales)
    bottom_scales = np.append(candidate_scales(bottom_scale), bottom_scale)
    sums = bottom_cosine_sums(spec, x, y3, y_norm, weight_scales, bottom_scales, threads)
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
