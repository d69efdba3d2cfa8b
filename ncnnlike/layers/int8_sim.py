"""Exact int8 simulation (spec 8 steps 1-7) with float ONNX ops on integer-valued tensors.

Every int8 value is held as a float32 integer; a float Conv / MatMul of integers is exact while
partial sums stay below 2^24 (always when inc*kh*kw <= 1040, and in practice far beyond). The
accumulator is cast to int32 and dequantized with DequantizeLinear (one rounding, as ncnn's
float(sum)*scale_in), or in float64 for the fma of ncnn's x86 Convolution (int8.dequantize); either
way onnxruntime cannot fold the scale into the weights (its Conv+Mul fusion changes the rounding).
Rounding is ncnn's x86 float2int8 (spec 7.2): trunc(x + copysign(0.5, x)) = sign(x)*floor(|x|+0.5).
Bit-exact with pip ncnn on the tiny and Lite0 reference models; about 4x slower than fp32.
"""
import numpy as np

from ncnnlike.layers import int8
from ncnnlike.layers.lowering import INT32, UINT8


def round_clamp(ctx, x):
    """clamp(round_half_away(x), -127, 127) on a float tensor (spec 7.1), still float."""
    c = ctx.op("Clip", [x, ctx.const(np.float32(-127)), ctx.const(np.float32(127))])
    r = ctx.op("Floor", [ctx.op("Add", [ctx.op("Abs", [c]), ctx.const(np.float32(0.5))])])
    return ctx.op("Mul", [r, ctx.op("Sign", [c])])


def quantize(ctx, x, scale):
    """float2int8(x * scale) as integer-valued float32 (spec 8.1 / 8.7)."""
    return round_clamp(ctx, ctx.op("Mul", [x, ctx.const(np.float32(scale))]))


def to_uint8(ctx, q):
    """Integer-valued float q in [-127, 127] -> the uint8 q+128 carried between int8 layers."""
    return ctx.op("Cast", [ctx.op("Add", [q, ctx.const(np.float32(128))])], to=UINT8)


def bottom(ctx, layer, L):
    """q_in as integer-valued float: an int8 bottom value-cast, a float bottom quantized with s_in."""
    tensor, quant = ctx.bottom_q(layer)
    if quant is not None:
        return ctx.float_of(layer.bottoms[0])
    return quantize(ctx, tensor, L.s_in)


def bind_top(ctx, layer, L, v, shape):
    """Requantize with s_top into an int8 top (int8_scale_term > 100), or bind the float v."""
    if L.s_top is None:
        ctx.top(layer, 0, v, shape)
    else:
        ctx.top(layer, 0, to_uint8(ctx, quantize(ctx, v, L.s_top)), shape, quant=float(L.s_top))


def lower_conv(ctx, layer, p, L):
    """Convolution / ConvolutionDepthWise: quantize, pad with (int8)pad_value, integer conv, dequantize."""
    pads, shape = int8.conv_geometry(p, ctx.in_shape(layer))
    q = bottom(ctx, layer, L)
    pad_value = int8.pad_int8(p)
    if pad_value and any(pads):
        q = ctx.op("Pad", [q, ctx.ints([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]),
                           ctx.const(np.float32(pad_value))])
        pads = [0, 0, 0, 0]
    acc = ctx.op("Conv", [q, ctx.const(L.weight.astype(np.float32), L.name + "_wq")],
                 **int8.conv_attrs(p, L.group, pads))
    if not (L.fma and L.bias is not None):   # the fma path casts the float integers itself
        acc = ctx.op("Cast", [acc], to=INT32)
    bind_top(ctx, layer, L, int8.dequantize(ctx, acc, L, 4), shape)


def lower_innerproduct(ctx, layer, L):
    """InnerProduct: quantize, integer MatMul against the int8 rows, dequantize; always float out."""
    flatten, shape = int8.ip_shapes(L, ctx.in_shape(layer))
    q = bottom(ctx, layer, L)
    if flatten:
        q = ctx.op("Flatten", [q], axis=1)
    w_t = np.ascontiguousarray(L.weight.T.astype(np.float32))
    acc = ctx.op("Cast", [ctx.op("MatMul", [q, ctx.const(w_t, L.name + "_wq")])], to=INT32)
    ctx.top(layer, 0, int8.dequantize(ctx, acc, L, len(shape) + 1), shape)
