"""Fast int8 lowering on onnxruntime's integer kernels; int8 activations travel as uint8 q+128
(zero point 128), the layout those kernels want, from one requantizing layer to the next.

Policy, per layer (speed: docs/int8-speed.md, tools/bench_int8_kernels.py, tools/profile_int8.py):
  - requantized conv or depthwise (term > 100), activation none / ReLU / Clip: QLinearConv with
    x_scale 1, w_scale[c] = scale_in[c]*s_top, y_scale 1, int32 bias round(bias/scale_in[c]), then a
    Clip on the uint8 output ([1, 255] for ncnn's -127 floor; ReLU and Clip become uint8 bounds, as
    rounding is monotone). A dense conv whose input channels are not a multiple of 4 (a 3-channel
    stem) gets zero input channels (channel_padding): onnxruntime's fused symmetric kernel runs it.
    Deviation: the bias rounded to the accumulator unit and the requantize rounding half to even
    make q differ by 1 where v*s_top lies within ~0.5*scale_in*s_top of a rounding boundary: on
    Lite0, each layer fed int8_sim's inputs, 0.012%-0.45% (mean 0.067%) of the outputs of its 34
    requantized layers, never by more than 1;
  - requantized depthwise on a CPU with AVX512-VNNI and VBMI (and the library built): our own
    kernel, an onnxruntime custom op (layers/dw_vnni.py), exact (ncnn's outputs), 1.3-1.4x faster than
    QLinearConv's in Lite0's graph, with the uint8 Clip of the conv before folded into its reads;
  - float-output 1x1 stride-1 conv with ReLU / Clip / no activation, on a CPU with AVX512-VNNI and
    VBMI: our own kernel (layers/pw_vnni.py: exact, one fma as ncnn; 0.89x of MatMulIntegerToFloat's
    time on Lite0's 15 such layers in its graph). Requantized 1x1 convs stay on QLinearConv: the
    same kernel with ncnn's requantization (a prototype, not kept) took 1.04x of its time there,
    1.2-1.4x on the layers with few inputs and many outputs, where requantizing is most of the work;
  - InnerProduct with ReLU / Clip / no activation on those CPUs: the same 1x1 kernel, each row a
    pixel, in ncnn's two roundings (pw_vnni.lower_ip: exact; Lite0's classifier 76 us against
    MatMulIntegerToFloat's 113);
  - after lowering, such a 1x1 conv, the residual add after it and the quantizing of the sum for the
    next conv become one node (layers/pw_fuse.py: the same arithmetic; Lite0 at 2 threads 3-5% faster);
  - other float-output 1x1 stride-1 convs and InnerProduct: MatMulIntegerToFloat (exact int32, then
    acc*scale_in + bias in two roundings: ncnn's x86 InnerProduct exactly, 1 ulp from its conv fma);
    other float-output convs: ConvInteger + DequantizeLinear + Add (same maths); depthwise ones and
    other activations before a requantize: int8_sim (grouped ConvInteger is a slow path);
  - float bottoms: our own op where the CPU runs it (layers/quantize_op.py: ncnn's rounding, one
    pass; a stem's 1-3 channel network input straight into the 4-channel NHWC bytes its QLinearConv
    reads, where a Pad and a Transpose followed), else QuantizeLinear(x, 1/s_in) (half to even) + uint8 Clip for ncnn's -127 floor, left
    out where x is provably >= 0 (runtime/nonnegative.py: after ReLU, ReLU6, sigmoid, pooling...):
    differs from ncnn only where x*s_in lies within an ulp of k+0.5.
Weights: without VNNI, onnxruntime's u8 x s8 GEMM adds pairs of products in int16 and saturates
(measured: QLinearConv 1x1 errors of 55 on extreme values); its u8 x u8 kernels widen first and are
exact. So weights are int8 where |w| <= 64 (pair sums stay below 2^15; ncnn's 6-bit 3x3 weights) or
where a one-time probe finds the u8 x s8 kernel exact (VNNI CPUs; the depthwise kernel), else uint8
w+128 with zero point 128. The same code thus picks the kernels of the CPU it finds.
Speed (docs/int8-speed.md): pointwise convs run about 2.5x faster than onnxruntime's fp32 ones, while
its int8 depthwise kernel is no faster than its fp32 one (0.8-1.1x: hence dw_vnni) and ncnn's
[-127, 127] range needs a Clip wherever an activation bounds the uint8 output; on Lite0
(AVX512-VNNI + VBMI, 1 thread) this lowering runs at 0.43-0.44x our fp32 time (wall and CPU), onnxruntime's own
QDQ int8 model at 0.48-0.49x (0.55-0.58x on onnxruntime's kernels alone; tools/bench_speed.py).
This is the runtime's default mode (net.opt.use_int8_inference True): end to end on the 400 Lite0
eval images the flips compound to a mean cosine of 0.99907 (min 0.9978) to pip ncnn's logits, 99.25%
top-1 agreement, top-1 88.5% against ncnn's 88.75% (without dw_vnni: 0.99900, min 0.9977, 98.5%,
88.75%), about as close as pip ncnn itself with its packed
layout off (0.99905, min 0.9969, 99.0%): within ncnn's own answers. On ncnn's random-weight benchmark
networks the same per-layer flips compound to output cosines of 0.97-0.9999 (tools/suite_parity.py).
"""
import functools

import numpy as np

from ncnnlike.layers import dw_vnni, int8, int8_sim, onnx_bytes, pw_vnni, quantize_op
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.lowering import OPSET, UINT8, Node

CLIP_ACTIVATIONS = (0, 1, 3)   # none, ReLU, Clip: monotone clamps, exact on the uint8 output


@functools.lru_cache(maxsize=None)
def u8s8_exact(depthwise):
    """Does this CPU's u8 x s8 QLinearConv (GEMM or depthwise kernel) accumulate exactly? One probe
    with the worst case, x = 255 and w = 127, whose int16 pair sums overflow without VNNI."""
    import onnxruntime as ort
    c, k = 8, 3
    w = np.full((c, 1 if depthwise else c, k, k), 127, np.int8)
    acc = w[0].size * 127 * 127
    inits = [("one", np.float32(1)), ("zp", np.uint8(128)), ("w", w), ("ws", np.full(c, 100.0 / acc, np.float32)),
             ("wz", np.zeros(c, np.int8))]
    node = Node("QLinearConv", ["x", "one", "zp", "w", "ws", "wz", "one", "zp"], ["y"],
                dict(group=c if depthwise else 1, kernel_shape=[k, k]), "probe")
    model, external = onnx_bytes.model([node], [("x", UINT8, [1, c, k, k])], ["y"], inits, [("", OPSET)], 8)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if external:
        so.add_external_initializers([n for n, _ in external], [ort.OrtValue.ortvalue_from_numpy(a) for _, a in external])
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.full((1, c, k, k), 255, np.uint8)})[0]
    return bool(np.all(y == 228))


def weights_u8s8(L, depthwise):
    """True when the int8 weights can go to a u8 x s8 kernel exactly (module docstring)."""
    return int(np.abs(L.weight.astype(np.int16)).max(initial=0)) <= 64 or u8s8_exact(depthwise)


def kernel_weights(L, weight, depthwise=False):
    """(weights, per-output zero points) for the integer kernels: int8 with zero point 0 where u8 x s8
    is exact, else uint8 w+128 with zero point 128. `weight` has the output channel first."""
    if weights_u8s8(L, depthwise):
        return weight.astype(np.int8), np.zeros(L.num_output, np.int8)
    return (weight.astype(np.int16) + 128).astype(np.uint8), np.full(L.num_output, 128, np.uint8)


def quantize(ctx, x, scale, nonnegative=False, shape=None, channels_last=True):
    """float -> uint8 q+128, q = clamp(round(x*scale), -127, 127): on our own op where the CPU runs
    it (layers/quantize_op.py: ncnn's rounding, one pass; `shape` is x's ncnn shape), else
    QuantizeLinear, which rounds x/(1/scale) half to even, then a uint8 Clip for ncnn's -127 floor,
    left out for an x proven >= 0 (inert there): that differs from ncnn's round half away only
    where x*scale lies within an ulp of k+0.5."""
    if quantize_op.usable(shape):
        return quantize_op.lower(ctx, x, scale, shape, channels_last)
    q = ctx.op("QuantizeLinear", [x, ctx.const(np.float32(1) / np.float32(scale)), ctx.const(np.uint8(128))])
    return q if nonnegative else ctx.op("Clip", [q, ctx.const(np.uint8(1)), ctx.const(np.uint8(255))])


def bottom(ctx, layer, L):
    """q_in as uint8 q+128: an int8 bottom as is, a float bottom quantized with s_in."""
    tensor, quant = ctx.bottom_q(layer)
    if quant is not None:
        return tensor
    blob = layer.bottoms[0]        # a network input's tensor is named after its blob
    return quantize(ctx, tensor, L.s_in, blob in ctx.nonnegative, ctx.shape(blob), channels_last=tensor != blob)


def packed_input(ctx, layer, L, extra):
    """A network input quantized straight into its channels padded by `extra` to 4 (a stem's:
    quantize_op.lower_packed), or None where that op does not apply."""
    tensor, quant = ctx.bottom_q(layer)
    blob = layer.bottoms[0]
    if quant is not None or tensor != blob or not quantize_op.usable_packed(ctx.shape(blob), extra):
        return None
    return quantize_op.lower_packed(ctx, tensor, L.s_in, ctx.shape(blob))


def clip_bounds(L):
    """uint8 bounds equal to the fused activation followed by requantization (ReLU, Clip)."""
    lo, hi = -127, 127
    if L.activation_type == 1:
        lo = 0
    elif L.activation_type == 3:
        a, b = (np.float32(v) * L.s_top for v in L.activation_params[:2])
        lo, hi = max(lo, int(int8.float2int8(a))), min(hi, int(int8.float2int8(b)))
    return np.uint8(lo + 128), np.uint8(hi + 128)


def qlinear_bias(L):
    """(accumulator unit per channel, int32 bias, rows whose weights must be zeroed). The unit is
    scale_in; a channel whose bias does not fit the int32 accumulator next to the largest possible
    sum (scale_in 0, or tiny from a huge weight scale) contributes only round(act(bias)*s_top): its
    weights are zeroed and its unit made 2^-10 / s_top."""
    acc_bound = np.abs(L.weight.astype(np.int64)).reshape(L.num_output, -1).sum(1) * 127
    bias = np.zeros(L.num_output) if L.bias is None else L.bias.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = bias / L.scale_in.astype(np.float64)
    constant = (L.scale_in == 0) | ~(np.abs(beta) + acc_bound < 2 ** 31 - 1)
    step = np.where(constant, np.float32(2 ** -10) / L.s_top, L.scale_in).astype(np.float32)
    beta = np.where(constant, np.clip(bias * float(L.s_top), -1000, 1000) * 2 ** 10, beta)
    return step, np.rint(beta).astype(np.int32), constant


def channel_padding(L):
    """How many zero input channels make a dense conv's input channels a multiple of 4: onnxruntime
    runs QLinearConv on its fused symmetric kernel (MlasConvSym: requantization inside, no im2col)
    only then, and only for int8 weights and at least 16 outputs, a multiple of 8 on AVX2 (of 4 on
    AVX-512). Lite0's 3-channel stem: 1.4x fp32's time unpadded, 0.6x padded (docs/int8-speed.md)."""
    usable = L.group == 1 and L.num_output >= 16 and L.num_output % 8 == 0 and weights_u8s8(L, False)
    return -L.weight.shape[1] % 4 if usable else 0


def qlinear_conv(ctx, p, L, xq, pads, extra=0):
    """Requantized conv in one QLinearConv + Clip (module docstring); `extra` zero input channels
    appended to the weights (channel_padding)."""
    step, bias, constant = qlinear_bias(L)
    weight = np.where(constant[:, None, None, None], np.int8(0), L.weight).astype(np.int8)
    weight = np.pad(weight, [(0, 0), (0, extra), (0, 0), (0, 0)])
    w, wz = kernel_weights(L, weight, L.group > 1 and L.group == L.num_output)
    one, zp = ctx.const(np.float32(1)), ctx.const(np.uint8(128))
    y = ctx.op("QLinearConv", [xq, one, zp, ctx.const(w, L.name + "_wq"), ctx.const(step * L.s_top, L.name + "_ws"),
                               ctx.const(wz, L.name + "_wz"), one, zp, ctx.const(bias, L.name + "_bq")],
               **int8.conv_attrs(p, L.group, pads))
    lo, hi = clip_bounds(L)
    out = ctx.op("Clip", [y, ctx.const(lo), ctx.const(hi)])
    ctx.uint8_clips[out] = (y, int(lo), int(hi))       # dw_vnni folds it into its input
    return out


def integer_conv(ctx, p, L, xq, pads):
    """Exact int32 accumulator of the conv: ConvInteger on uint8 x and uint8 w+128."""
    zp = ctx.const(np.uint8(128))
    w = (L.weight.astype(np.int16) + 128).astype(np.uint8)   # ConvInteger's u8 x s8 path is slow
    return ctx.op("ConvInteger", [xq, ctx.const(w, L.name + "_wq"), zp, zp], **int8.conv_attrs(p, L.group, pads))


def matmul_to_float(ctx, L, x, rows):
    """x (.., k) uint8 times the int8 `rows` (num_output, k) -> float acc*scale_in + bias, then the
    activation: one MatMulIntegerToFloat (exact int32, then mul and add as ncnn's x86 InnerProduct)."""
    w, wz = kernel_weights(L, rows)
    inputs = [x, ctx.const(np.ascontiguousarray(w.T), L.name + "_wq"), ctx.const(np.float32(1)),
              ctx.const(L.scale_in, L.name + "_scale_in"), ctx.const(np.uint8(128)), ctx.const(wz, L.name + "_wz")]
    if L.bias is not None:
        inputs.append(ctx.const(L.bias, L.name + "_b"))
    y = ctx.op("MatMulIntegerToFloat", inputs, domain="com.microsoft")
    return lower_fused(ctx, y, L.activation_type, L.activation_params)


def matmul_1x1(ctx, L, xq):
    """Float-output 1x1 stride-1 conv, channels last; its transposes cancel against onnxruntime's NHWC
    QLinearConv ones, so that a whole Lite0 runs NHWC."""
    x = ctx.op("Transpose", [xq], perm=[0, 2, 3, 1])
    return ctx.op("Transpose", [matmul_to_float(ctx, L, x, L.weight[:, :, 0, 0])], perm=[0, 3, 1, 2])


def is_1x1(p, L, pads):
    return (p.kernel_w == p.kernel_h == 1 and p.stride_w == p.stride_h == 1 and L.group == 1
            and not any(pads))


def conv_input(ctx, layer, p, L, pads, extra):
    """(uint8 q+128 input, pads left to the conv): the bottom with `extra` zero channels, and the
    border where ncnn pads with a value other than the zero point."""
    pad_value = int8.pad_int8(p)
    packed = packed_input(ctx, layer, L, extra) if extra and not (pad_value and any(pads)) else None
    if packed is not None:
        return packed, pads
    xq = bottom(ctx, layer, L)
    if (pad_value and any(pads)) or extra:
        border = pads if pad_value else [0, 0, 0, 0]
        xq = ctx.op("Pad", [xq, ctx.ints([0, 0, border[0], border[1], 0, extra, border[2], border[3]]),
                            ctx.const(np.uint8(pad_value + 128))])
        pads = [p_ - b for p_, b in zip(pads, border)]
    return xq, pads


def lower_conv(ctx, layer, p, L):
    """Convolution / ConvolutionDepthWise on the fast kernels; the policy is the module docstring's."""
    requantize_in_uint8 = L.s_top is not None and L.activation_type in CLIP_ACTIVATIONS
    if L.group > 1 and not requantize_in_uint8:
        return int8_sim.lower_conv(ctx, layer, p, L)   # grouped ConvInteger is a slow path
    pads, shape = int8.conv_geometry(p, ctx.in_shape(layer))
    extra = channel_padding(L) if requantize_in_uint8 else 0
    xq, pads = conv_input(ctx, layer, p, L, pads, extra)
    if requantize_in_uint8 and L.group > 1 and dw_vnni.usable(p, L, pads):
        ctx.top(layer, 0, dw_vnni.lower(ctx, p, L, xq, pads, shape), shape, quant=float(L.s_top))
    elif L.s_top is None and pw_vnni.usable(p, L, pads):
        ctx.top(layer, 0, pw_vnni.lower(ctx, L, xq, shape), shape)
    elif requantize_in_uint8:
        ctx.top(layer, 0, qlinear_conv(ctx, p, L, xq, pads, extra), shape, quant=float(L.s_top))
    elif L.s_top is None and is_1x1(p, L, pads):
        ctx.top(layer, 0, matmul_1x1(ctx, L, xq), shape)
    else:
        v = int8.dequantize(ctx, integer_conv(ctx, p, L, xq, pads), L, 4, fma=False)
        if L.s_top is None:
            ctx.top(layer, 0, v, shape)
        else:
            ctx.top(layer, 0, quantize(ctx, v, L.s_top, shape=shape), shape, quant=float(L.s_top))


def lower_innerproduct(ctx, layer, L):
    """InnerProduct: quantize, flatten when ncnn does, matmul_to_float; always float out."""
    flatten, shape = int8.ip_shapes(L, ctx.in_shape(layer))
    xq = bottom(ctx, layer, L)
    if flatten:
        xq = ctx.op("Flatten", [xq], axis=1)
    if pw_vnni.usable_ip(L):
        ctx.top(layer, 0, pw_vnni.lower_ip(ctx, L, xq, shape), shape)
    else:
        ctx.top(layer, 0, matmul_to_float(ctx, L, xq, L.weight), shape)
