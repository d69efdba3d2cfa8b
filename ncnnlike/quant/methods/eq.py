"""method=eq: ncnn2table's EQ search (spec 5.8), the intended algorithm, vectorised.

Start from the KL table. For each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) in
param order, for each weight scale s (per output channel, per group for ConvolutionDepthWise), then
the bottom scale: try the 100 candidates float32(0.5s + k*(2s - 0.5s)/100), k = 0..99; run the layer
alone in int8 (spec 8: quantize the fp32 bottom with the bottom scale, trunc(v + copysign(0.5, v))
clamped to +-127; int8 weights; accumulate; * 1/(s_in*s_w) + bias; fused activation; no requantize)
on each of the first <= 50 samples; compare with the fp32 top blob by cosine similarity over the
whole blob; sum over samples; keep the best.

Order: exactly ncnn's in-place sequential order (weight scale 0, 1, ..., then the bottom scale, each
seeing the already updated ones), not a Jacobi update. This stays exact when vectorised because the
weight scale of unit u only changes unit u's output channels: one Conv whose output channels are
all units' candidate-quantized weight rows gives, per sample and candidate, that unit's dot product
with the fp32 top and its squared norm; walking the units in order then swaps unit u's share of each
sample's dot product and squared norm. The bottom scale search runs the whole layer per candidate.

Difference from ncnn (which takes the best candidate whenever its sum is > 0, even when the current
scale's sum is higher): a candidate replaces s only if its sum is > 0 and above the sum of s itself,
so every step can only raise the objective and the result is never worse than KL.

Execution: small onnxruntime graphs per layer run the int8 layer as a float Conv (InnerProduct: 1x1)
on int8 values, with the dequantization folded into the operands (weight search: rows q_w/(s_in*s_w);
bottom search: inputs q_x/s_in, weights q_w/s_w) so that bias and activation fuse into the Conv. This
equals ncnn's integer arithmetic up to float32 rounding (~1e-6 relative). Memory is bounded by
chunking units, samples and candidates, and by fetching the fp32 blobs of a few layers at a time
(_BLOB_BYTES); nothing of a layer's size is made for all samples at once but its fp32 bottom and
top, and a layer whose bottom and top exceed _BLOB_BYTES is searched a chunk of samples at a time,
its blobs fetched again for each of the two searches (the quantized bottom, its padding and the
norms of the top come a chunk of samples at a time too: Lite0's model2table method=eq peaked at
1257 MB when they did not, 705-751 MB now, the same table; the rest of its peak is the other
layers' blobs, 87-256 MB a group, onnxruntime's runs and the KL calibration before).
"""
import functools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
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
from ncnnlike.runtime import heap

CANDIDATES = 100
EQ_SAMPLES = 50
_RUN_ELEMENTS = 1 << 21      # values of the widest tensor of one onnxruntime run
_WEIGHT_ELEMENTS = 1 << 22   # candidate weight values per run
_BLOB_BYTES = 1 << 28        # fp32 bottoms + tops of the samples fetched by one net run
_CHUNK_BYTES = 1 << 26       # the quantized, padded bottom of the samples one weight search takes at a time
_FETCH_BATCH = 10            # samples per net run while fetching blobs
_FLOAT, _INT64 = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64


def candidate_scales(scale):
    """ncnn's 100 candidates for a scale: lower + k*step, lower = 0.5s, step = (2s - 0.5s)/100 (float32)."""
    s = np.asarray(scale, np.float32)[..., None]
    lower, upper = s * np.float32(0.5), s * np.float32(2.0)
    step = (upper - lower) / np.float32(CANDIDATES)
    return (lower + np.arange(CANDIDATES, dtype=np.float32) * step).astype(np.float32)


def quantize(x, scale, out=None):
    """ncnn float2int8 of x*scale as float32 integers (spec 7.2: trunc(v + copysign(0.5, v)), +-127);
    into `out` (x's shape, float32) if given, with no temporary beyond one array of x's size."""
    v = np.multiply(np.asarray(x, np.float32), np.asarray(scale, np.float32), out=out, dtype=np.float32)
    half = np.copysign(np.float32(0.5), v)
    v += half
    np.trunc(v, out=v)
    return np.clip(v, -127, 127, out=v)


def padded_size(spec, x):
    """(h, w) of a sample of x (n, *in_chw) once padded with the layer's pads."""
    t, left, b, r = spec.pads
    return x.shape[2] + t + b, x.shape[3] + left + r


def quantized_bottom(spec, x, scale):
    """The layer's int8 bottom as ncnn pads it (spec 8 steps 1-2), float32 integers: x (n, *in_chw)
    quantized with `scale`, then padded with pad_q, made in place in one array."""
    t, left = spec.pads[:2]
    n, c, h, w = x.shape
    out = np.full((n, c) + padded_size(spec, x), np.float32(spec.pad_q), np.float32)
    quantize(x, scale, out=out[:, :, t:t + h, left:left + w])
    return out


@dataclass
class Int8Layer:
    """A conv layer as the search sees it: float weights (num_output, ing, kh, kw), ONNX Conv attributes,
    and how its ncnn bottom maps to NCHW (n, *in_chw) and its top to (n, num_output, pixels)."""
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
    inner_product: bool = False
    rows: bool = False        # InnerProduct on a 2-D (rows, num_input) bottom: one output row per row

    @property
    def per_unit(self):
        """Output channels per weight scale."""
        return self.weight.shape[0] // self.units

    def bottom(self, x):
        if self.rows:
            x = np.swapaxes(x, 1, 2)
        return np.ascontiguousarray(x.reshape((x.shape[0],) + tuple(self.in_chw)), np.float32)

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
                         {"kernel_shape": [1, 1]}, [0, 0, 0, 0], 0.0, activation, in_chw, True, rows)
    if len(bottom_shape) != 3:
        raise NcnnlikeError("layer %s: method=eq needs a (c, h, w) bottom, got shape %s" % (layer.name, bottom_shape))
    c, h, wd = bottom_shape
    depthwise = layer.type == "ConvolutionDepthWise"
    group = p.group if depthwise else 1
    if group < 1 or c % group or p.num_output % group or w.size != p.num_output * c // group * p.kernel_h * p.kernel_w:
        raise NcnnlikeError("layer %s: %d weights do not fit %d input channels, num_output %d, group %d"
                            % (layer.name, w.size, c, p.num_output, group))
    pads, _ = pads_and_out(p, h, wd)
    conv = {"kernel_shape": [p.kernel_h, p.kernel_w], "strides": [p.stride_h, p.stride_w],
            "dilations": [p.dilation_h, p.dilation_w]}
    return Int8Layer(layer.name, w.reshape(p.num_output, c // group, p.kernel_h, p.kernel_w), bias,
                     group if depthwise else p.num_output, depthwise, conv, pads,
                     float(np.trunc(np.clip(np.float32(p.pad_value), -128, 127))), activation, bottom_shape)


# ---------------------------------------------------------------- int8 layer graphs (onnxruntime)

def _session(ctx, inputs):
    """A single-threaded onnxruntime session over the nodes of `ctx` with outputs d and q; inputs
    {name: elem type}. Parallelism comes from running several at once (_run_all)."""
    values = [helper.make_tensor_value_info(n, t, None) for n, t in inputs.items()]
    outputs = [helper.make_tensor_value_info(n, _FLOAT, None) for n in ("d", "q")]
    graph = helper.make_graph(ctx.nodes, "eq", values, outputs, ctx.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _run_all(runs, threads):
    """Call the functions yielded by `runs` on `threads` worker threads, at most 2 per thread pending
    (the generator builds each run's inputs, so memory stays bounded). onnxruntime releases the GIL;
    independent single-threaded runs used 2 cores about twice as well as its intra-op threads here."""
    if threads <= 1:
        for run in runs:
            run()
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        pending = deque()
        for run in runs:
            pending.append(pool.submit(run))
            if len(pending) >= 2 * threads:
                pending.popleft().result()
        for future in pending:
            future.result()


def _store(session, feeds, outputs, where, axes=None):
    """Run `session` and store its d and q (squeezed to 3-D, transposed by `axes`) at `where` of `outputs`."""
    for out, value in zip(outputs, session.run(["d", "q"], feeds)):
        value = value.reshape(value.shape[:3])
        out[where] = value.transpose(axes) if axes else value


def _conv_tail(ctx, spec, x, w, b, group, shared_y):
    """Conv + bias with dequantizing operands, fused activation (spec 8 steps 3-6), reshaped by `shape`
    to (..., L); then each row's dot product with y -> d and squared norm -> q, where y (..., L, 1) is
    shared by the rows of a matrix (one MatMul) or y (..., L) belongs to one row."""
    v = ctx.op("Conv", [x, w, b], group=group, pads=[0, 0, 0, 0], **spec.conv)
    v = ctx.op("Reshape", [lower_fused(ctx, v, *spec.activation), "shape"])
    last = ctx.ints([-1])
    if shared_y:
        ctx.nodes.append(helper.make_node("MatMul", [v, "y"], ["d"]))
    else:
        ctx.nodes.append(helper.make_node("ReduceSum", [ctx.op("Mul", [v, "y"]), last], ["d"], keepdims=0))
    # Mul + ReduceSum: about twice as fast as onnxruntime's ReduceSumSquare
    ctx.nodes.append(helper.make_node("ReduceSum", [ctx.op("Mul", [v, v]), last], ["q"], keepdims=0))


def weight_search_session(spec, group):
    """d, q for x (n, cin, hp, wp), the quantized padded bottom, and w (M, ing, kh, kw), the candidate
    int8 weight rows times their 1/(s_in*s_w); b (M,). Conv: y (n, U, L, 1), shape [n, U, K1, L] ->
    (n, U, K1[, 1]). InnerProduct, samples as pixels (x (1, J, 1, n*P)): y (U, 1, n, P),
    shape [U, K1, n, P] -> (U, K1, n)."""
    ctx = LowerCtx(int8=False)
    _conv_tail(ctx, spec, "x", "w", "b", group, not spec.inner_product)
    return _session(ctx, {"x": _FLOAT, "w": _FLOAT, "b": _FLOAT, "y": _FLOAT, "shape": _INT64})


def bottom_search_session(spec, weight):
    """d, q (Kc, n, C) for fp32 x (n, c, h, w) (zero-padded unless pad_value != 0), half = copysign(0.5, x),
    candidate bottom scales s (Kc, 1, 1, 1, 1) and inv = 1/s per (candidate, sample) (Kc*n,); weight:
    int8 weights times 1/s_w; y (n, C, P), xshape [Kc*n, c, h, w], shape [Kc, n, C, P]."""
    ctx = LowerCtx(int8=False)
    v = ctx.op("Add", [ctx.op("Mul", [ctx.op("Unsqueeze", ["x", ctx.ints([0])]), "s"]), "half"])
    v = ctx.op("Clip", [v, ctx.const(np.float32(-127)), ctx.const(np.float32(127))])
    q = ctx.op("Reshape", [ctx.op("Cast", [v], to=onnx.TensorProto.INT32), "xshape"])    # Cast truncates
    if any(spec.pads) and spec.pad_q != 0:
        t, left, b, r = spec.pads
        q = ctx.op("Pad", [q, ctx.ints([0, 0, t, left, 0, 0, b, r]), ctx.const(np.int32(spec.pad_q))])
    x = ctx.op("DequantizeLinear", [q, "inv"], axis=0)
    group = spec.units if spec.depthwise else 1
    _conv_tail(ctx, spec, x, ctx.const(weight, "w"), ctx.const(spec.bias, "b"), group, False)
    inputs = ("x", "half", "s", "inv", "y")
    return _session(ctx, dict({name: _FLOAT for name in inputs}, xshape=_INT64, shape=_INT64))


# ---------------------------------------------------------------- the search

def top_norms(y3):
    """|y| of each sample's fp32 top (n, C, P), in float64, one sample at a time (the float64
    squares of all samples at once were twice the top's size: 460 MB for Lite0's largest)."""
    return np.sqrt(np.array([np.square(sample, dtype=np.float64).sum() for sample in y3], np.float64))


def cosine_sums(d, q, y_norm):
    """Sum over samples (axis 0) of d / (|out| |y|), with |out| = sqrt(q); 0 where a norm is 0."""
    denom = np.sqrt(np.maximum(q, 0.0)) * y_norm
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, d / denom, 0.0).sum(axis=0)


def _pick(sums):
    """Index of the best of the CANDIDATES first sums if it is > 0 and above the current (last) sum,
    else the current index (ncnn: the first maximum wins)."""
    best = int(np.argmax(sums[:CANDIDATES]))
    return best if sums[best] > 0 and sums[best] > sums[-1] else len(sums) - 1


def _spans(total, step):
    """[(start, stop)] covering range(total) in steps of `step` (at least 1)."""
    step = max(1, int(step))
    return [(i, min(total, i + step)) for i in range(0, total, step)]


def _weight_rows(spec, bottom_scale, scales, u0, u1):
    """Conv weights and bias of units u0..u1 under all their candidate scales, rows ordered (unit,
    candidate, channel): int8 weights times the dequantization scale 1/(s_in*s_w) (spec 8 step 4)."""
    og, size, k1 = spec.per_unit, u1 - u0, scales.shape[1]
    wq = quantize(spec.weight[u0 * og:u1 * og].reshape(size, 1, og, -1), scales[u0:u1, :, None, None])
    wq *= (np.float32(1) / (np.float32(bottom_scale) * scales[u0:u1]))[:, :, None, None]
    b = np.broadcast_to(spec.bias[u0 * og:u1 * og].reshape(size, 1, og), (size, k1, og))
    return wq.reshape((-1,) + spec.weight.shape[1:]), np.ascontiguousarray(b).reshape(-1)


def weight_contributions(spec, xq, y3, bottom_scale, scales, threads=1):
    """d, q (n, units, K1) float64: each unit's output channels under each of its candidate weight
    scales `scales` (units, K1), dotted with the fp32 top y3 (n, C, P) and squared; xq is the
    quantized, padded bottom."""
    n, units, k1 = xq.shape[0], spec.units, scales.shape[1]
    og, pixels = spec.per_unit, y3.shape[2]
    row = int(np.prod(spec.weight.shape[1:]))
    if spec.inner_product:        # samples as pixels: one GEMM instead of one GEMV per sample
        xq = np.ascontiguousarray(xq.transpose(2, 1, 0, 3)).reshape(1, row, 1, n * pixels)
        y3 = np.ascontiguousarray(y3.transpose(1, 0, 2))[:, None]
    run_pixels = pixels * (n if spec.inner_product else 1)
    spans = _spans(units, min(_WEIGHT_ELEMENTS // (k1 * og * row), _RUN_ELEMENTS // (k1 * og * run_pixels)))
    sessions = {size: weight_search_session(spec, size if spec.depthwise else 1)
                for size in {u1 - u0 for u0, u1 in spans}}
    d, q = np.empty((n, units, k1)), np.empty((n, units, k1))
    _run_all(_weight_runs(spec, xq, y3, (n, pixels), bottom_scale, scales, spans, sessions, (d, q)), threads)
    return d, q


def _weight_runs(spec, xq, y3, sizes, bottom_scale, scales, spans, sessions, outputs):
    """The runs of weight_contributions, built one unit span at a time; sizes = (samples, pixels)."""
    (n, pixels), k1, og, ing = sizes, scales.shape[1], spec.per_unit, spec.weight.shape[1]
    for u0, u1 in spans:
        size = u1 - u0
        w, b = _weight_rows(spec, bottom_scale, scales, u0, u1)
        if spec.inner_product:
            feeds = {"w": w, "b": b, "x": xq, "y": y3[u0:u1], "shape": np.array([size, k1, n, pixels], np.int64)}
            yield functools.partial(_store, sessions[size], feeds, outputs, (slice(None), slice(u0, u1)), (2, 0, 1))
            continue
        x = xq[:, u0 * ing:u1 * ing] if spec.depthwise else xq
        y = y3[:, u0 * og:u1 * og].reshape(n, size, og * pixels, 1)
        for n0, n1 in _spans(n, _RUN_ELEMENTS // (size * k1 * og * pixels)):
            feeds = {"w": w, "b": b, "x": x[n0:n1], "y": y[n0:n1],
                     "shape": np.array([n1 - n0, size, k1, og * pixels], np.int64)}
            yield functools.partial(_store, sessions[size], feeds, outputs, (slice(n0, n1), slice(u0, u1)))


def _weight_search(spec, x, y3, bottom_scale, scales, threads):
    """weight_contributions over the samples of x, a few at a time: their quantized, padded bottom,
    within _CHUNK_BYTES, is made for each chunk of samples (Lite0's largest bottom: 230 MB for 50
    samples, which quantizing whole held three times over)."""
    sample_bytes = 4 * x.shape[1] * int(np.prod(padded_size(spec, x)))
    parts = [weight_contributions(spec, quantized_bottom(spec, x[n0:n1], bottom_scale), y3[n0:n1], bottom_scale,
                                  scales, threads)
             for n0, n1 in _spans(x.shape[0], _CHUNK_BYTES // sample_bytes)]
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(2))


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


def bottom_cosine_sums(spec, x, y3, y_norm, weight_scales, bottom_scales, threads=1):
    """Summed cosine over samples (len(bottom_scales),) of the int8 layer for each bottom scale;
    x is spec.bottom() of the fp32 bottom."""
    d, q = bottom_contributions(spec, x, y3, weight_scales, bottom_scales, threads)
    return cosine_sums(d.T, q.T, y_norm[:, None])


def bottom_contributions(spec, x, y3, weight_scales, bottom_scales, threads=1):
    """d, q (len(bottom_scales), n) float64: each sample's int8 output under each bottom scale dotted
    with its fp32 top y3 (n, C, P), and its squared norm."""
    n, k1, (c, pixels) = x.shape[0], len(bottom_scales), y3.shape[1:]
    per_channel = np.repeat(np.asarray(weight_scales, np.float32), spec.per_unit)[:, None, None, None]
    session = bottom_search_session(spec, quantize(spec.weight, per_channel) * (np.float32(1) / per_channel))
    pad = any(spec.pads) and spec.pad_q == 0          # zeros quantize to 0: the fp32 bottom is padded
    padded = padded_size(spec, x) if pad else x.shape[2:]
    pairs = max(1, _RUN_ELEMENTS // max(c * pixels, x.shape[1] * int(np.prod(padded))))
    d, q = np.empty((k1, n, c)), np.empty((k1, n, c))
    _run_all(_bottom_runs(spec, session, x, y3, bottom_scales, pairs, pad, (d, q)), threads)
    return d.sum(axis=2), q.sum(axis=2)


def _bottom_runs(spec, session, x, y3, bottom_scales, pairs, pad, outputs):
    """The runs of bottom_cosine_sums, `pairs` (candidate, sample) pairs each, built one chunk of
    samples at a time: its padded bottom and copysign(0.5, x) exist for that chunk only."""
    k1 = len(bottom_scales)
    kspan = min(pairs, k1)
    for n0, n1 in _spans(x.shape[0], pairs // kspan):
        xs = x[n0:n1]
        if pad:
            t, left, b, r = spec.pads
            xs = np.pad(xs, ((0, 0), (0, 0), (t, b), (left, r)))
        half = np.copysign(np.float32(0.5), xs)
        for k0, k2 in _spans(k1, kspan):
            s = np.asarray(bottom_scales[k0:k2], np.float32)
            feeds = {"x": xs, "half": half, "s": s.reshape(-1, 1, 1, 1, 1), "y": y3[n0:n1],
                     "inv": np.repeat(np.float32(1) / s, n1 - n0), "xshape": np.array((-1,) + xs.shape[1:], np.int64),
                     "shape": np.array([len(s), n1 - n0, y3.shape[1], y3.shape[2]], np.int64)}
            yield functools.partial(_store, session, feeds, outputs, (slice(k0, k2), slice(n0, n1)))


def equalize_layer(spec, bottom, top, weight_scales, bottom_scale, threads=1, weight_cap=None):
    """EQ of one layer on fp32 bottom/top blobs (n, *ncnn shape): (weight scales, bottom scale,
    summed cosine with the given scales, summed cosine with the chosen ones). `weight_cap` (per
    unit) bounds the weight candidates: 6-bit layers must keep their weights within +-31."""
    return equalize_chunks(spec, lambda n0, n1: (bottom[n0:n1], top[n0:n1]), [(0, len(bottom))],
                           weight_scales, bottom_scale, threads, weight_cap)


def equalize_chunks(spec, blobs, chunks, weight_scales, bottom_scale, threads=1, weight_cap=None):
    """equalize_layer over the samples in `chunks` ([(n0, n1)], in order), whose fp32 (bottom, top)
    blobs(n0, n1) gives, twice (once for each search): a layer whose blobs for every sample are too
    large is searched holding one chunk's. Everything kept across chunks is per sample, and summed
    over samples in one go at the end: the result does not depend on the chunks."""
    weight_scales = np.asarray(weight_scales, np.float32).reshape(spec.units)
    bottom_scale = np.float32(bottom_scale)
    scales = np.concatenate([candidate_scales(weight_scales), weight_scales[:, None]], axis=1)
    if weight_cap is not None:
        scales = np.minimum(scales, np.asarray(weight_cap, np.float32).reshape(-1, 1))
    parts = []
    for n0, n1 in chunks:
        x, y3 = _views(spec, *blobs(n0, n1))
        parts.append((top_norms(y3),) + _weight_search(spec, x, y3, bottom_scale, scales, threads))
        del x, y3                 # before the next chunk's are fetched
    y_norm, d, q = (np.concatenate([part[i] for part in parts]) for i in range(3))
    before = float(cosine_sums(d[:, :, -1].sum(axis=1), q[:, :, -1].sum(axis=1), y_norm))
    weight_scales = search_weight_scales(d, q, y_norm, scales)
    bottom_scales = np.append(candidate_scales(bottom_scale), bottom_scale)
    parts = [bottom_contributions(spec, *_views(spec, *blobs(n0, n1)), weight_scales, bottom_scales, threads)
             for n0, n1 in chunks]
    d, q = (np.concatenate([part[i] for part in parts], axis=1) for i in range(2))
    sums = cosine_sums(d.T, q.T, y_norm[:, None])
    best = _pick(sums)
    return weight_scales, np.float32(bottom_scales[best]), before, float(sums[best])


def _views(spec, bottom, top):
    """(x, y3): the search's views of fp32 bottom and top blobs (n, *ncnn shape)."""
    return spec.bottom(bottom), spec.top(top)


# ---------------------------------------------------------------- the table

def _fetch_groups(layers, shapes, samples):
    """[(group, chunks)]: consecutive layers whose fp32 bottoms and tops for `samples` samples fit in
    _BLOB_BYTES, with [(0, samples)]; a layer whose own do not, alone, with the chunks of samples
    whose blobs do, each a whole number of _FETCH_BATCH (so that every sample's blobs come from a run
    of the same batch as when they are fetched whole)."""
    group, size = [], 0
    for layer in layers:
        need = 4 * samples * sum(int(np.prod(shapes[b])) for b in (layer.bottoms[0], layer.tops[0]))
        if group and size + need > _BLOB_BYTES:
            yield group, [(0, samples)]
            group, size = [], 0
        if need > _BLOB_BYTES:
            per_batch = need // samples * _FETCH_BATCH
            yield [layer], _spans(samples, _FETCH_BATCH * max(1, _BLOB_BYTES // per_batch))
            continue
        group.append(layer)
        size += need
    if group:
        yield group, [(0, samples)]


class _Blobs:
    """The fp32 bottoms and tops of a group of layers for the samples of `inputs`: fetched once for
    all of them where `chunks` is one chunk, else a chunk of samples at a time whenever a search asks
    (the network runs again for each: twice over the samples for a layer too large to hold)."""

    def __init__(self, graph, inputs, group, chunks, threads):
        self.graph, self.inputs, self.threads = graph, inputs, threads
        wanted = list(dict.fromkeys(b for layer in group for b in (layer.bottoms[0], layer.tops[0])))
        self.whole = _fetch(graph, inputs, wanted, threads) if len(chunks) == 1 else None

    def of(self, layer):
        """blobs(n0, n1) -> (bottom, top) of `layer`, for equalize_chunks."""
        names = (layer.bottoms[0], layer.tops[0])

        def blobs(n0, n1):
            if self.whole is not None:
                return tuple(self.whole[name][n0:n1] for name in names)
            part = _fetch(self.graph, {k: v[n0:n1] for k, v in self.inputs.items()}, list(names), self.threads)
            return tuple(part[name] for name in names)
        return blobs


def _fetch(graph, inputs, blobs, threads):
    """blob -> fp32 array (n, *shape) over all samples, in batches of _FETCH_BATCH, by a Net of its own
    (its onnxruntime session and memory go when it returns)."""
    from ncnnlike.runtime import Net
    runner = Net.from_graph(graph)
    runner.opt.num_threads, runner.opt.use_int8_inference = threads, False
    n = len(next(iter(inputs.values())))
    out, result = {}, None
    for n0 in range(0, n, _FETCH_BATCH):
        result = runner.run({k: v[n0:n0 + _FETCH_BATCH] for k, v in inputs.items()}, blobs)
        for blob, array in result.items():
            out.setdefault(blob, np.empty((n,) + array.shape[1:], np.float32))[n0:n0 + len(array)] = array
    del runner, result
    heap.trim()                   # the session's memory, freed in pieces the search will not reuse
    return out


def equalize_table(net, lists, preprocess, stats, threads=1, progress=True):
    """The KL table of `net.graph` with every conv layer's weight and bottom scales refined by EQ on the
    first <= 50 samples of `lists`: (weight lines, blob lines, static lines) like compute_table."""
    from ncnnlike.quant.images import iter_batches
    from ncnnlike.quant.methods import compute_table
    from ncnnlike.quant.weights import CONV_TYPES, is_six_bit
    from ncnnlike.runtime.lower import lower_graph
    graph = net.graph
    weight_lines, blob_lines, static_lines = compute_table(graph, stats, "kl")
    layers = [layer for layer in graph if layer.type in CONV_TYPES]
    count = min(len(lists[0]), EQ_SAMPLES)
    inputs = next(iter_batches([entries[:count] for entries in lists], preprocess, count, threads))
    blobs = list(dict.fromkeys(b for layer in layers for b in (layer.bottoms[0], layer.tops[0])))
    ctx = lower_graph(graph, {k: v.shape[1:] for k, v in inputs.items()}, blobs, int8=False)[2]
    shapes = {blob: ctx.shape(blob) for blob in blobs}
    with tqdm(total=len(layers), desc="eq search", unit="layer", disable=None if progress else True) as bar:
        for group, chunks in _fetch_groups(layers, shapes, count):
            fetched = _Blobs(graph, inputs, group, chunks, net.opt.num_threads)
            for layer in group:
                bar.set_postfix_str(layer.name)
                key = layer.name + "_param_0"
                spec = int8_layer(layer, shapes[layer.bottoms[0]])
                cap = weight_lines[key] if is_six_bit(layer) else None   # KL's 31/absmax: stay within +-31
                weights, bottom, _, _ = equalize_chunks(spec, fetched.of(layer), chunks, weight_lines[key],
                                                        blob_lines[layer.name][0], threads, cap)
                weight_lines[key] = weights
                blob_lines[layer.name] = np.array([bottom], np.float32)
                bar.update(1)
            del fetched
    return weight_lines, blob_lines, static_lines
