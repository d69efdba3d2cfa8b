"""Convolution (spec 3): params, .bin buffers, float lowering to ONNX Conv."""
import numpy as np

from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import Link, Param, WeightSpec

TYPE = "Convolution"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 5 6 8 9 [-23310] 19
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "kernel_w", 0),
    Param(11, "kernel_h", Link(1)),
    Param(2, "dilation_w", 1),
    Param(12, "dilation_h", Link(2)),
    Param(3, "stride_w", 1),
    Param(13, "stride_h", Link(3)),
    Param(4, "pad_left", 0),
    Param(14, "pad_top", Link(4)),
    Param(15, "pad_right", Link(4)),
    Param(16, "pad_bottom", Link(14)),
    Param(18, "pad_value", 0.0),
    Param(5, "bias_term", 0),
    Param(6, "weight_data_size", 0),
    Param(8, "int8_scale_term", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
    Param(19, "dynamic_weight", 0),
)


def weights(p):
    """weight (tagged), bias, then int8 scales: weight per output channel, bottom, top if > 100."""
    if p.dynamic_weight:
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    if p.int8_scale_term:
        specs.append(WeightSpec("weight_data_int8_scales", p.num_output, False))
        specs.append(WeightSpec("bottom_blob_int8_scales", 1, False))
    if p.int8_scale_term > 100:
        specs.append(WeightSpec("top_blob_int8_scales", 1, False))
    return specs


def pads_and_out(p, in_h, in_w, group_ignored=None):
    """ONNX pads [top, left, bottom, right] and output (h, w), resolving -233/-234 SAME modes."""
    kh = p.dilation_h * (p.kernel_h - 1) + 1
    kw = p.dilation_w * (p.kernel_w - 1) + 1
    if p.pad_left in (-233, -234):
        out_h = (in_h + p.stride_h - 1) // p.stride_h
        out_w = (in_w + p.stride_w - 1) // p.stride_w
        tot_h = max((out_h - 1) * p.stride_h + kh - in_h, 0)
        tot_w = max((out_w - 1) * p.stride_w + kw - in_w, 0)
        small_h, small_w = tot_h // 2, tot_w // 2
        if p.pad_left == -233:   # SAME_UPPER: extra pixel bottom/right
            pads = [small_h, small_w, tot_h - small_h, tot_w - small_w]
        else:                    # SAME_LOWER
            pads = [tot_h - small_h, tot_w - small_w, small_h, small_w]
    else:
        pads = [p.pad_top, p.pad_left, p.pad_bottom, p.pad_right]
    out_h = (in_h + pads[0] + pads[2] - kh) // p.stride_h + 1
    out_w = (in_w + pads[1] + pads[3] - kw) // p.stride_w + 1
    return pads, (out_h, out_w)


def lower_conv(ctx, layer, p, group):
    """Float convolution with `group` groups (1 for Convolution), bias and fused activation."""
    c, in_h, in_w = ctx.in_shape(layer)
    pads, (out_h, out_w) = pads_and_out(p, in_h, in_w)
    x = ctx.bottom(layer)
    if p.pad_value != 0.0 and any(pads):
        x = ctx.op("Pad", [x, ctx.ints([0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]),
                           ctx.const(np.float32(p.pad_value))])
        pads = [0, 0, 0, 0]
    w = layer.weight("weight_data").reshape(p.num_output, c // group, p.kernel_h, p.kernel_w)
    inputs = [x, ctx.const(w, layer.name + "_w")]
    if p.bias_term:
        inputs.append(ctx.const(layer.weight("bias_data"), layer.name + "_b"))
    y = ctx.op("Conv", inputs, group=group, kernel_shape=[p.kernel_h, p.kernel_w],
               dilations=[p.dilation_h, p.dilation_w], strides=[p.stride_h, p.stride_w], pads=pads)
    y = lower_fused(ctx, y, p.activation_type, p.activation_params)
    ctx.top(layer, 0, y, (p.num_output, out_h, out_w))


def lower(layer, p, ctx):
    from ncnnlike.layers.int8 import lower_int8, runs_int8
    if runs_int8(layer, p, ctx):
        return lower_int8(layer, p, ctx)
    lower_conv(ctx, layer, p, 1)
