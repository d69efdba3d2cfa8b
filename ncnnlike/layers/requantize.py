"""Requantize (spec 3; requantize.cpp, x86/requantize_x86.cpp): int -> int8,
q = float2int8(activation(int * scale_in + bias) * scale_out).

0=scale_in_data_size (1), 1=scale_out_data_size (1), 2=bias_data_size (0), 3=activation_type (0),
4=activation_params (float array); .bin: raw scale_in, scale_out, then bias. Each buffer is one value
or one per row / channel (quantize.outer_values); int * scale_in + bias is one fma with a bias (pip
ncnn's x86 kernel), the activation that of the fused activations (activation.lower_fused), the
rounding ncnn's float2int8 (spec 7.2). The bottom is an int32 accumulator in ncnn, read here as in
dequantize.py (float values, or the q of an int8 bottom, which pip ncnn cannot run); the top is
int8 (uint8 q+128, quant= scale_out).

Differs from pip ncnn on purpose: its x86 kernel loads per-channel scales and biases for SIMD packs
of 16 and 8 only, so with scale or bias sizes > 1 and a blob packed by 4 (channels, or rows of a 2-D
blob, a multiple of 4 but not of 8 on an AVX CPU) lanes 1-3 of each pack use the values of lane 0.
Here every channel uses its own values (tests/layers/test_requantize.py pins the pip ncnn bug).
"""
import numpy as np

from ncnnlike.layers import int8_sim
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers.dequantize import scale_bias
from ncnnlike.layers.quantize import outer_values, quant_of
from ncnnlike.layers import checks

TYPE = "Requantize"

# ModelWriter order: 0 1 2 3 4
PARAMS = (
    Param(0, "scale_in_data_size", 1),
    Param(1, "scale_out_data_size", 1),
    Param(2, "bias_data_size", 0),
    Param(3, "activation_type", 0),
    Param(4, "activation_params", []),
)


def weights(p):
    """scale_in_data, scale_out_data, then bias_data if bias_data_size: raw float32."""
    specs = [WeightSpec("scale_in_data", p.scale_in_data_size, False),
             WeightSpec("scale_out_data", p.scale_out_data_size, False)]
    if p.bias_data_size:
        specs.append(WeightSpec("bias_data", p.bias_data_size, False))
    return specs


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    scale_in = outer_values(layer, "scale_in_data", shape)
    scale_out = outer_values(layer, "scale_out_data", shape)
    bias = outer_values(layer, "bias_data", shape) if p.bias_data_size else None
    v = scale_bias(ctx, layer, ctx.bottom(layer), scale_in, bias)
    v = lower_fused(ctx, v, p.activation_type, p.activation_params)
    v = ctx.op("Mul", [v, ctx.const(np.asarray(scale_out, np.float32), layer.name + "_scale_out")])
    ctx.top(layer, 0, int8_sim.to_uint8(ctx, int8_sim.round_clamp(ctx, v)), shape, quant=quant_of(scale_out))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "scale_in_data_size", "scale_out_data_size")
    checks.at_least(p, 0, "bias_data_size")
    checks.activation(p, "activation_type", "activation_params")
