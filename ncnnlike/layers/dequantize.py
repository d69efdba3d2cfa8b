"""Dequantize (spec 3; dequantize.cpp, x86/dequantize_x86.cpp): y = int * scale + bias.

0=scale_data_size (default 1), 1=bias_data_size (default 0); .bin: raw scales, then raw biases.
Scale and bias are one value for the blob or one per row (2-D) / channel (3-D/4-D); a 1-D blob
uses element 0 of each (quantize.outer_values). With a bias, pip ncnn's x86 kernel computes one
fma(int, scale, bias); without, one multiply.

What "int" is: ncnn's Dequantize reads its bottom as int32 (an accumulator; nothing in today's ncnn
produces one, so in pip ncnn it comes from an input Mat holding int32). Here a float bottom is taken
as holding those integer values (exact up to 2^24, as float32 carries them), and an int8 bottom
(from Quantize, Requantize or a requantizing Convolution) as its values q. pip ncnn cannot run the
int8 case: it reads the int8 Mat as int32, past its end, and writes 4-byte floats into a top
allocated with the bottom's 1-byte elements (heap corruption; "pool allocator destroyed too early").
"""
import numpy as np
import onnx

from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers.quantize import outer_values
from ncnnlike.layers import checks

TYPE = "Dequantize"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "scale_data_size", 1),
    Param(1, "bias_data_size", 0),
)


def weights(p):
    """scale_data, then bias_data if bias_data_size: raw float32."""
    specs = [WeightSpec("scale_data", p.scale_data_size, False)]
    if p.bias_data_size:
        specs.append(WeightSpec("bias_data", p.bias_data_size, False))
    return specs


def scale_bias(ctx, layer, x, scale, bias):
    """x * scale, or fma(x, scale, bias) as ncnn's x86 kernels (float64 product and sum, rounded once
    to float32: the product of two float32 is exact in float64)."""
    if bias is None:
        return ctx.op("Mul", [x, ctx.const(scale, layer.name + "_scale")])
    v = ctx.op("Cast", [x], to=onnx.TensorProto.DOUBLE)
    v = ctx.op("Mul", [v, ctx.const(scale, layer.name + "_scale", np.float64)])
    v = ctx.op("Add", [v, ctx.const(bias, layer.name + "_bias", np.float64)])
    return ctx.op("Cast", [v], to=onnx.TensorProto.FLOAT)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    scale = outer_values(layer, "scale_data", shape)
    bias = outer_values(layer, "bias_data", shape) if p.bias_data_size else None
    ctx.top(layer, 0, scale_bias(ctx, layer, ctx.bottom(layer), scale, bias), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "scale_data_size")
    checks.at_least(p, 0, "bias_data_size")
