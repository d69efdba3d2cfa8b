"""A measuring prototype of method=eq's two searches with integer arithmetic (tools/eq_bound.py times it
against ncnnlike/quant/methods/eq.py on the same layers; it is not used by model2table).

The int8 layer runs as onnxruntime's u8s8 MatMulIntegerToFloat (VNNI on AVX512-VNNI CPUs) on im2col
patches: the int8 products are summed exactly in int32, as ncnn does, then * 1/(s_in*s_w) + bias and the
fused activation in float32. u8s8 because onnxruntime's s8s8 path is ~15x slower here: the operand that
must be unsigned carries +128 with zero point 128.
- weight search: rows = each unit's 101 candidate-quantized weight rows (unsigned operand), columns =
  the samples' quantized patches (signed); the rows' dequantization, bias and activation follow as
  broadcast Mul/Add, then d = MatMul with the fp32 top and q = Mul + ReduceSum, both over contiguous
  pixels (a ReduceSum over a non-last axis costs ~15x more in onnxruntime).
- bottom search: per batch of candidate bottom scales, quantize the fp32 patches in the graph (ncnn's
  trunc(x*s + copysign(0.5, x)) clamped to +-127, cast to int8), one GEMM against the fixed int8 weights.
Only Convolution (any kernel, pad_value 0) and InnerProduct (one row); ConvolutionDepthWise is left to
the float path (its K = 9 or 25 products per output make it output-bound either way).
"""
import functools

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.lowering import LowerCtx
from ncnnlike.quant.methods import eq

U8, S8, F, I64 = onnx.TensorProto.UINT8, onnx.TensorProto.INT8, onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
RUN_ELEMENTS = 1 << 20      # float outputs of one onnxruntime run
MIN_ROWS = 512              # GEMM rows (samples x pixels) per run of the weight search, for operand reuse


def supported(spec):
    return not spec.depthwise and not spec.rows and (spec.pad_q == 0 or not any(spec.pads))


def session(ctx, inputs, outputs=("d", "q")):
    """A single-threaded onnxruntime session over ctx's nodes (parallelism: eq._run_all)."""
    values = [helper.make_tensor_value_info(n, t, None) for n, t in inputs.items()]
    outs = [helper.make_tensor_value_info(n, F, None) for n in outputs]
    graph = helper.make_graph(ctx.nodes, "eq_int8", values, outs, ctx.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def im2col(spec, x):
    """Padded bottom (n, c, hp, wp) -> patches (n, K, P), K ordered (c, kh, kw) like weight rows."""
    n, c = x.shape[:2]
    if spec.inner_product:
        return np.ascontiguousarray(x.reshape(n, c, -1))
    (kh, kw), (sh, sw) = spec.conv["kernel_shape"], spec.conv.get("strides", [1, 1])
    dh, dw = spec.conv.get("dilations", [1, 1])
    if (kh, kw, sh, sw) == (1, 1, 1, 1):
        return np.ascontiguousarray(x.reshape(n, c, -1))
    ho, wo = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1, (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, ho, wo), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dh:i * dh + (ho - 1) * sh + 1:sh, j * dw:j * dw + (wo - 1) * sw + 1:sw]
    return cols.reshape(n, c * kh * kw, ho * wo)


def _gemm(ctx, a, b):
    """float32 of (a - 128) @ b, a uint8 (rows, K), b int8 (..., K, P): onnxruntime's u8s8 kernel."""
    one, zero_point, out = ctx.const(np.float32(1)), ctx.const(np.uint8(128)), ctx.fresh("gemm")
    ctx.nodes.append(helper.make_node("MatMulIntegerToFloat", [a, b, one, one, zero_point], [out],
                                      domain="com.microsoft"))
    return out


def _reductions(ctx, v):
    """d = v @ y (y: (..., P, 1)), q = sum of v^2 over the last axis."""
    ctx.nodes.append(helper.make_node("MatMul", [v, "y"], ["d"]))
    ctx.nodes.append(helper.make_node("ReduceSum", [ctx.op("Mul", [v, v]), ctx.ints([-1])], ["q"], keepdims=0))


def weight_search_session(spec):
    """d (m, S, K1, 1), q (m, S, K1) for a (S*K1, K) candidate rows + 128, b (m, K, P) patches,
    al / bias (S*K1, 1), y (m, S, P, 1), shape [m, S, K1, P]."""
    ctx = LowerCtx(int8=False)
    v = ctx.op("Add", [ctx.op("Mul", [_gemm(ctx, "a", "b"), "al"]), "bias"])
    _reductions(ctx, ctx.op("Reshape", [lower_fused(ctx, v, *spec.activation), "shape"]))
    return session(ctx, {"a": U8, "b": S8, "al": F, "bias": F, "y": F, "shape": I64})


def weight_contributions(spec, xq, y3, bottom_scale, scales, threads=1):
    """eq.weight_contributions with exact int32 accumulation: d, q (n, units, K1) float64."""
    n, units, k1 = xq.shape[0], spec.units, scales.shape[1]
    patches = im2col(spec, xq).astype(np.int8)
    rows, pixels = patches.shape[1:]
    y4 = y3.reshape(n, units, pixels, 1)
    m = max(1, min(n, -(-MIN_ROWS // pixels)))
    spans = eq._spans(units, RUN_ELEMENTS // (k1 * pixels * m))
    sess = weight_search_session(spec)
    d, q = np.empty((n, units, k1)), np.empty((n, units, k1))
    weights = spec.weight.reshape(spec.weight.shape[0], -1)

    def runs():
        for u0, u1 in spans:
            size = u1 - u0
            a = (eq.quantize(weights[u0:u1, None, :], scales[u0:u1, :, None]) + 128).astype(np.uint8)
            al = (np.float32(1) / (np.float32(bottom_scale) * scales[u0:u1])).reshape(-1, 1).astype(np.float32)
            bias = np.repeat(spec.bias[u0:u1], k1).reshape(-1, 1).astype(np.float32)
            for n0, n1 in eq._spans(n, max(m, RUN_ELEMENTS // (size * k1 * pixels))):
                feeds = {"a": a.reshape(-1, rows), "b": patches[n0:n1], "al": al, "bias": bias,
                         "y": np.ascontiguousarray(y4[n0:n1, u0:u1]),
                         "shape": np.array([n1 - n0, size, k1, pixels], np.int64)}
                yield functools.partial(eq._store, sess, feeds, (d, q), (slice(n0, n1), slice(u0, u1)))
    eq._run_all(runs(), threads)
    return d, q


def bottom_search_session(spec, weight_u8, bias):
    """d (Kc, m, 1, 1), q (Kc, m, 1) for fp32 patches x (m, K, P), half = copysign(0.5, x), candidate
    scales s (Kc, 1, 1, 1), al (Kc, 1, C, 1) = 1/(s*s_w), y (m, C*P, 1), shape [Kc, m, 1, C*P]."""
    ctx = LowerCtx(int8=False)
    v = ctx.op("Add", [ctx.op("Mul", [ctx.op("Unsqueeze", ["x", ctx.ints([0])]), "s"]), "half"])
    v = ctx.op("Cast", [ctx.op("Clip", [v, ctx.const(np.float32(-127)), ctx.const(np.float32(127))])], to=S8)
    v = ctx.op("Add", [ctx.op("Mul", [_gemm(ctx, ctx.const(weight_u8, "w"), v), "al"]), ctx.const(bias, "bias")])
    _reductions(ctx, ctx.op("Reshape", [lower_fused(ctx, v, *spec.activation), "shape"]))
    return session(ctx, {"x": F, "half": F, "s": F, "al": F, "y": F, "shape": I64})


def bottom_cosine_sums(spec, x, y3, y_norm, weight_scales, bottom_scales, threads=1):
    """eq.bottom_cosine_sums with exact int32 accumulation."""
    n, k1 = x.shape[0], len(bottom_scales)
    if any(spec.pads):
        t, left, b, r = spec.pads
        x = np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)))
    patches = im2col(spec, x)
    half = np.copysign(np.float32(0.5), patches)
    rows, pixels = patches.shape[1:]
    per_channel = np.repeat(np.asarray(weight_scales, np.float32), spec.per_unit)
    weight = eq.quantize(spec.weight.reshape(spec.weight.shape[0], -1), per_channel[:, None])
    channels = weight.shape[0]
    sess = bottom_search_session(spec, (weight + 128).astype(np.uint8), spec.bias.reshape(-1, 1).astype(np.float32))
    y = y3.reshape(n, channels * pixels, 1)
    d, q = np.empty((k1, n)), np.empty((k1, n))
    per = pixels * max(channels, rows)
    m = max(1, min(n, RUN_ELEMENTS // per))

    def runs():
        for k0, k2 in eq._spans(k1, RUN_ELEMENTS // (per * m)):
            s = np.asarray(bottom_scales[k0:k2], np.float32)
            al = (np.float32(1) / (s[:, None] * per_channel[None, :])).astype(np.float32).reshape(-1, 1, channels, 1)
            for n0, n1 in eq._spans(n, m):
                feeds = {"x": patches[n0:n1], "half": half[n0:n1], "s": s.reshape(-1, 1, 1, 1), "al": al,
                         "y": y[n0:n1], "shape": np.array([k2 - k0, n1 - n0, 1, channels * pixels], np.int64)}
                yield functools.partial(_store_sums, sess, feeds, (d, q), (slice(k0, k2), slice(n0, n1)))
    eq._run_all(runs(), threads)
    return eq.cosine_sums(d.T, q.T, y_norm[:, None])


def _store_sums(sess, feeds, outputs, where):
    for out, value in zip(outputs, sess.run(["d", "q"], feeds)):
        out[where] = value.reshape(value.shape[:2])
