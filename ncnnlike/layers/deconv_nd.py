"""Shared by Deconvolution, Deconvolution1D/3D and their DeconvolutionDepthWise twins: per-axis
geometry, ncnn's border cut, and the lowering to ONNX ConvTranspose (static weights) or MatMul +
one-hot ConvTranspose (1-D dynamic_weight, weights as a second bottom).

Per-axis lists are in ONNX spatial order: (w,) for the 1-D layers, (h, w) for the 2-D ones,
(d, h, w) for the 3-D ones. ncnn (deconvolution.cpp, deconvolution1d.cpp, deconvolution3d.cpp and
the depthwise twins) computes the full output
(in - 1) * stride + dilation * (kernel - 1) + 1 + output_pad, fills it with bias, scatters the
products, applies the fused activation, then cut_padding removes the border: the explicit pads when
any is > 0; else, when every output size is > 0, the SAME_UPPER (-233) or SAME_LOWER (-234) split
of full - output; else nothing. ncnn leaves the top empty (forward fails) when the output sizes are
set but no pad is -233/-234: we raise instead.
"""
from dataclasses import dataclass

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import lower_fused

# activation_type -> how many activation_params ncnn reads (fused_activation.h)
ACTIVATION_PARAM_COUNT = {0: 0, 1: 0, 2: 1, 3: 2, 4: 0, 5: 0, 6: 2}


@dataclass(frozen=True)
class Geometry:
    """Per-axis ints, ONNX spatial order."""
    kernel: tuple
    stride: tuple
    dilation: tuple
    pad_begin: tuple
    pad_end: tuple
    output_pad: tuple
    output: tuple


def geometry_1d(p, kernel_w=None):
    """Geometry of a 1-D layer (kernel_w overridden by a dynamic weight's width)."""
    return Geometry((p.kernel_w if kernel_w is None else kernel_w,), (p.stride_w,), (p.dilation_w,),
                    (p.pad_left,), (p.pad_right,), (p.output_pad_right,), (p.output_w,))


def geometry_2d(p):
    """Geometry of a 2-D layer: (h, w) = (top/bottom, left/right)."""
    return Geometry((p.kernel_h, p.kernel_w), (p.stride_h, p.stride_w), (p.dilation_h, p.dilation_w),
                    (p.pad_top, p.pad_left), (p.pad_bottom, p.pad_right),
                    (p.output_pad_bottom, p.output_pad_right), (p.output_h, p.output_w))


def geometry_3d(p):
    """Geometry of a 3-D layer: (d, h, w) = (front/behind, top/bottom, left/right)."""
    return Geometry((p.kernel_d, p.kernel_h, p.kernel_w), (p.stride_d, p.stride_h, p.stride_w),
                    (p.dilation_d, p.dilation_h, p.dilation_w), (p.pad_front, p.pad_top, p.pad_left),
                    (p.pad_behind, p.pad_bottom, p.pad_right),
                    (p.output_pad_behind, p.output_pad_bottom, p.output_pad_right),
                    (p.output_d, p.output_h, p.output_w))


def full_size(g, in_sizes):
    """The uncut output per axis: (in - 1) * stride + kernel extent + output_pad."""
    return tuple((n - 1) * s + d * (k - 1) + 1 + op
                 for n, s, d, k, op in zip(in_sizes, g.stride, g.dilation, g.kernel, g.output_pad))


def check_geometry(layer, g):
    """kernel, stride, dilation >= 1 and output_pad >= 0: what ncnn's scatter can run."""
    for name in ("kernel", "stride", "dilation"):
        if any(v < 1 for v in getattr(g, name)):
            raise fail(layer, "%s %s must be >= 1" % (name, getattr(g, name)))
    if any(v < 0 for v in g.output_pad):
        raise fail(layer, "output_pad %s must be >= 0" % (g.output_pad,))


def border_cut(g, full):
    """(begin, end) cut per axis, as cut_padding; ValueError for what ncnn cannot run."""
    pads = g.pad_begin + g.pad_end
    if any(v > 0 for v in pads):
        if any(v < 0 for v in pads):
            raise ValueError("pads %s mix positive and negative values (ncnn's cut then reads outside the "
                             "full output)" % (pads,))
        begin, end = g.pad_begin, g.pad_end
    elif all(v > 0 for v in g.output):
        cuts = [f - o for f, o in zip(full, g.output)]
        if any(c < 0 for c in cuts):
            raise ValueError("output size %s larger than the full output %s" % (g.output, full))
        if -233 in pads:      # SAME_UPPER: the larger half at the end
            begin, end = tuple(c // 2 for c in cuts), tuple(c - c // 2 for c in cuts)
        elif -234 in pads:    # SAME_LOWER
            begin, end = tuple(c - c // 2 for c in cuts), tuple(c // 2 for c in cuts)
        else:
            raise ValueError("output size %s is set but no pad is -233/-234 (ncnn fails)" % (g.output,))
    else:
        begin, end = (0,) * len(full), (0,) * len(full)
    if any(b + e >= f for b, e, f in zip(begin, end, full)):
        raise ValueError("cut %s + %s leaves nothing of the full output %s" % (begin, end, full))
    return begin, end


def out_size(full, cut):
    return tuple(f - b - e for f, b, e in zip(full, *cut))


def fail(layer, message):
    """The error for a layer whose params or bottoms ncnn cannot run."""
    return NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, message))


def activation(ctx, layer, p, y):
    """The fused activation on `y`, after checking ncnn has the params it reads."""
    t = p.activation_type
    count = ACTIVATION_PARAM_COUNT.get(t)
    if count is None:
        raise fail(layer, "activation_type %r is not one of 0..6" % (t,))
    if len(p.activation_params or []) < count:
        raise fail(layer, "activation_type %d needs %d activation_params, got %r"
                   % (t, count, list(p.activation_params or [])))
    return lower_fused(ctx, y, t, p.activation_params)


def check_group(layer, channels, num_output, group):
    """num_output >= 1 and group dividing both channel counts."""
    if num_output < 1:
        raise fail(layer, "num_output %d must be >= 1" % num_output)
    if group < 1 or channels % group or num_output % group:
        raise fail(layer, "group %d does not divide channels %d and num_output %d" % (group, channels, num_output))


def onnx_weight(w, num_output, in_c, group, kernel):
    """ncnn [group][outc/g][inc/g][k...] -> ONNX ConvTranspose [inc][outc/g][k...]."""
    og, ig = num_output // group, in_c // group
    w = w.reshape((group, og, ig) + tuple(kernel))
    w = w.transpose((0, 2, 1) + tuple(range(3, 3 + len(kernel))))
    return np.ascontiguousarray(w.reshape((in_c, og) + tuple(kernel)))


def conv_transpose(ctx, x, weight, group, g, full, cut, bias=None):
    """ConvTranspose of x by ONNX-layout `weight` (tensor name), + const `bias` ((O,) array or None),
    ncnn's cut applied. onnxruntime takes output_pad < stride only: beyond, pad zeros by hand."""
    nd = len(g.kernel)
    attrs = dict(group=group, kernel_shape=list(g.kernel), strides=list(g.stride), dilations=list(g.dilation))
    if all(op < s for op, s in zip(g.output_pad, g.stride)):
        inputs = [x, weight] + ([ctx.const(bias)] if bias is not None else [])
        return ctx.op("ConvTranspose", inputs, pads=list(cut[0] + cut[1]), output_padding=list(g.output_pad),
                      **attrs)
    y = ctx.op("ConvTranspose", [x, weight], **attrs)
    y = ctx.op("Pad", [y, ctx.ints([0] * (2 + nd) + [0, 0] + list(g.output_pad))])
    if bias is not None:
        y = ctx.op("Add", [y, ctx.const(bias.reshape((-1,) + (1,) * nd))])
    axes = list(range(2, 2 + nd))
    ends = [f - e for f, e in zip(full, cut[1])]
    return ctx.op("Slice", [y, ctx.ints(list(cut[0])), ctx.ints(ends), ctx.ints(axes)])


def lower_static_on(ctx, layer, p, g, group, x, channels, in_sizes):
    """Transposed convolution of x (N, channels, *in_sizes) with the layer's own weight_data and
    bias_data, before activation: (tensor, output sizes)."""
    check_geometry(layer, g)
    check_group(layer, channels, p.num_output, group)
    need = p.num_output * (channels // group) * int(np.prod(g.kernel))
    if p.weight_data_size != need:
        raise fail(layer, "weight_data_size %d does not match %d inputs x %d outputs / group %d x kernel %s"
                   % (p.weight_data_size, channels, p.num_output, group, "x".join(map(str, g.kernel))))
    full = full_size(g, in_sizes)
    cut = cut_or_fail(layer, g, full)
    w = onnx_weight(layer.weight("weight_data"), p.num_output, channels, group, g.kernel)
    bias = layer.weight("bias_data") if p.bias_term else None
    y = conv_transpose(ctx, x, ctx.const(w, layer.name + "_w"), group, g, full, cut, bias)
    return y, out_size(full, cut)


def cut_or_fail(layer, g, full):
    """check_geometry, then border_cut with its ValueError as an NcnnlikeError naming the layer."""
    check_geometry(layer, g)
    try:
        return border_cut(g, full)
    except ValueError as exc:
        raise fail(layer, str(exc)) from None


def bottom_1d(ctx, layer):
    """The data bottom of a 1-D layer as (N, channels, w): a 2-D blob (h = channels, w), or a 1-D blob
    as one channel (ncnn reads its h as 1)."""
    shape = ctx.in_shape(layer)
    if len(shape) == 2:
        return ctx.bottom(layer), shape[0], shape[1]
    if len(shape) == 1:
        return ctx.op("Unsqueeze", [ctx.bottom(layer), ctx.ints([1])]), 1, shape[0]
    raise fail(layer, "expects a 2-D (h = channels, w) bottom, got shape %s" % (shape,))


def lower_1d(ctx, layer, p, group):
    """Deconvolution1D / DeconvolutionDepthWise1D: static or dynamic weights, activation, bind top."""
    x, channels, width = bottom_1d(ctx, layer)
    if p.dynamic_weight:
        y, num_output, out = lower_dynamic_1d(ctx, layer, p, group, x, channels, width)
    else:
        if len(layer.bottoms) != 1:
            raise fail(layer, "takes one bottom unless dynamic_weight=1, got %d" % len(layer.bottoms))
        g = geometry_1d(p)
        y, out = lower_static_on(ctx, layer, p, g, group, x, channels, (width,))
        num_output = p.num_output
    ctx.top(layer, 0, activation(ctx, layer, p, y), (num_output,) + out)


def lower_dynamic_1d(ctx, layer, p, group, x, channels, width):
    """Weights from bottom 1, an ONNX-layout (inch, outch/group, kernel_w) blob, bias from bottom 2:
    per-sample MatMul to (outch x kernel_w) columns, then a one-hot ConvTranspose scatters them."""
    need = 3 if p.bias_term else 2
    if len(layer.bottoms) != need:
        raise fail(layer, "dynamic_weight=1 with bias_term=%d takes %d bottoms, got %d"
                   % (p.bias_term, need, len(layer.bottoms)))
    wshape = ctx.in_shape(layer, 1)
    if len(wshape) != 3 or wshape[0] != channels:
        raise fail(layer, "dynamic weight must be a 3-D blob (inch %d, outch / group, kernel_w), got shape %s"
                   % (channels, wshape))
    og, k = wshape[1], wshape[2]
    num_output = og * group
    check_group(layer, channels, num_output, group)
    g = geometry_1d(p, kernel_w=k)
    full = full_size(g, (width,))
    cut = cut_or_fail(layer, g, full)
    cg = channels // group
    xg = ctx.op("Reshape", [x, ctx.ints([0, group, cg, width])])
    wg = ctx.op("Reshape", [ctx.bottom(layer, 1), ctx.ints([0, group, cg, og * k])])
    cols = ctx.op("MatMul", [ctx.op("Transpose", [wg], perm=[0, 1, 3, 2]), xg])
    cols = ctx.op("Reshape", [cols, ctx.ints([0, num_output * k, width])])
    onehot = np.tile(np.eye(k, dtype=np.float32), (num_output, 1)).reshape(num_output * k, 1, k)
    y = conv_transpose(ctx, cols, ctx.const(onehot, layer.name + "_scatter"), num_output, g, full, cut)
    if p.bias_term:
        bshape = ctx.in_shape(layer, 2)
        if int(np.prod(bshape)) != num_output:
            raise fail(layer, "dynamic bias has shape %s, expected %d values" % (bshape, num_output))
        y = ctx.op("Add", [y, ctx.op("Reshape", [ctx.bottom(layer, 2), ctx.ints([0, num_output, 1])])])
    return y, num_output, out_size(full, cut)


BOTTOM_KINDS = {2: "a 3-D (c, h, w)", 3: "a 4-D (c, d, h, w)"}


def lower_static(ctx, layer, p, g, group):
    """A 2-D or 3-D layer (rank from `g`) with static weights on its one bottom, activation, bind top."""
    rank = len(g.kernel)
    shape = ctx.in_shape(layer)
    if len(shape) != rank + 1:
        raise fail(layer, "expects %s bottom, got shape %s" % (BOTTOM_KINDS[rank], shape))
    if len(layer.bottoms) != 1:
        raise fail(layer, "takes one bottom, got %d" % len(layer.bottoms))
    y, out = lower_static_on(ctx, layer, p, g, group, ctx.bottom(layer), shape[0], shape[1:])
    ctx.top(layer, 0, activation(ctx, layer, p, y), (p.num_output,) + out)


def lower_2d(ctx, layer, p, group):
    """Deconvolution / DeconvolutionDepthWise on a 3-D (c, h, w) bottom; no dynamic_weight (yet)."""
    if p.dynamic_weight:
        raise fail(layer, "dynamic_weight=1 is not supported")
    lower_static(ctx, layer, p, geometry_2d(p), group)


def lower_3d(ctx, layer, p, group):
    """Deconvolution3D / DeconvolutionDepthWise3D on a 4-D (c, d, h, w) bottom."""
    lower_static(ctx, layer, p, geometry_3d(p), group)
