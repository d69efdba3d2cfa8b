"""Deconvolution (spec 3, deconvolution.cpp): params, .bin buffers, float lowering to ONNX ConvTranspose.

ncnn computes the full output (w-1)*stride + kernel_extent + output_pad, adds bias, applies the fused
activation, then cuts the border: the explicit pads when any is > 0, else (SAME modes -233/-234 with
output_w/output_h set) down to output_w x output_h. ConvTranspose's `pads` cut the same border and
its `output_padding` extends the end like ncnn, so one node does it all.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import lower_fused
from ncnnlike.layers.base import Link, Param, WeightSpec

TYPE = "Deconvolution"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18 [19] 20 [21] 5 6 9 [-23310] 28
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
    Param(18, "output_pad_right", 0),
    Param(19, "output_pad_bottom", Link(18)),
    Param(20, "output_w", 0),
    Param(21, "output_h", Link(20)),
    Param(5, "bias_term", 0),
    Param(6, "weight_data_size", 0),
    Param(9, "activation_type", 0),
    Param(10, "activation_params", []),
    Param(28, "dynamic_weight", 0),
)


def weights(p):
    """weight (tagged), then bias raw x num_output; nothing when dynamic_weight (no int8 support)."""
    if p.dynamic_weight:
        return []
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    return specs


def cut_and_out(p, in_h, in_w):
    """Border cut [top, left, bottom, right] and output (h, w), as Deconvolution::cut_padding."""
    full_h = (in_h - 1) * p.stride_h + p.dilation_h * (p.kernel_h - 1) + 1 + p.output_pad_bottom
    full_w = (in_w - 1) * p.stride_w + p.dilation_w * (p.kernel_w - 1) + 1 + p.output_pad_right
    pads = (p.pad_top, p.pad_left, p.pad_bottom, p.pad_right)
    if any(v > 0 for v in pads):
        cut = [max(v, 0) for v in pads]
    elif p.output_w > 0 and p.output_h > 0 and (-233 in pads or -234 in pads):
        hcut, wcut = full_h - p.output_h, full_w - p.output_w
        if hcut < 0 or wcut < 0:
            raise ValueError("output_w/output_h %dx%d larger than the full output %dx%d"
                             % (p.output_w, p.output_h, full_w, full_h))
        if -233 in pads:    # SAME_UPPER: the larger half at bottom/right
            cut = [hcut // 2, wcut // 2, hcut - hcut // 2, wcut - wcut // 2]
        else:               # SAME_LOWER
            cut = [hcut - hcut // 2, wcut - wcut // 2, hcut // 2, wcut // 2]
    else:
        cut = [0, 0, 0, 0]
    return cut, (full_h - cut[0] - cut[2], full_w - cut[1] - cut[3])


def onnx_weight(w, num_output, in_c, group, kh, kw):
    """ncnn [group][outc/g][inc/g][kh][kw] -> ONNX ConvTranspose [inc][outc/g][kh][kw]."""
    og, ig = num_output // group, in_c // group
    w = w.reshape(group, og, ig, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(w.reshape(in_c, og, kh, kw))


def lower_deconv(ctx, layer, p, group):
    """Float transposed convolution with `group` groups, bias and fused activation."""
    shape = ctx.in_shape(layer)
    if len(shape) != 3:
        raise NcnnlikeError("layer %s (%s): expects a 3-D (c, h, w) bottom, got shape %s"
                            % (layer.name, layer.type, shape))
    if p.dynamic_weight:
        raise NcnnlikeError("layer %s (%s): dynamic_weight=1 is not supported" % (layer.name, layer.type))
    c, in_h, in_w = shape
    if group < 1 or c % group or p.num_output % group:
        raise NcnnlikeError("layer %s (%s): group %d does not divide channels %d and num_output %d"
                            % (layer.name, layer.type, group, c, p.num_output))
    if p.weight_data_size != p.num_output * (c // group) * p.kernel_h * p.kernel_w:
        raise NcnnlikeError("layer %s (%s): weight_data_size %d does not match %d inputs x %d outputs"
                            " / group %d x %dx%d kernel" % (layer.name, layer.type, p.weight_data_size, c,
                                                            p.num_output, group, p.kernel_h, p.kernel_w))
    try:
        cut, out_hw = cut_and_out(p, in_h, in_w)
    except ValueError as exc:
        raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, exc)) from None
    w = onnx_weight(layer.weight("weight_data"), p.num_output, c, group, p.kernel_h, p.kernel_w)
    inputs = [ctx.bottom(layer), ctx.const(w, layer.name + "_w")]
    if p.bias_term:
        inputs.append(ctx.const(layer.weight("bias_data"), layer.name + "_b"))
    y = ctx.op("ConvTranspose", inputs, group=group, kernel_shape=[p.kernel_h, p.kernel_w],
               dilations=[p.dilation_h, p.dilation_w], strides=[p.stride_h, p.stride_w], pads=cut,
               output_padding=[p.output_pad_bottom, p.output_pad_right])
    y = lower_fused(ctx, y, p.activation_type, p.activation_params)
    ctx.top(layer, 0, y, (p.num_output,) + out_hw)


def lower(layer, p, ctx):
    lower_deconv(ctx, layer, p, 1)
