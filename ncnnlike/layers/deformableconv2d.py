"""DeformableConv2D (deformableconv2d.cpp): convolution whose kernel taps move by learned offsets.

Bottoms: x (c, h, w); offset (2 * kernel_h * kernel_w, outh, outw), channel 2k the h offset and 2k+1
the w offset of tap k = i * kernel_w + j; optional mask (kernel_h * kernel_w, outh, outw) (DCNv2).
Tap k of output (oh, ow) samples x at (oh * stride_h - pad_top + i * dilation_h + offset_h,
ow * stride_w - pad_left + j * dilation_w + offset_w) bilinearly as ncnn does: zero when the point
is not inside (-1, h) x (-1, w), and each of the four corners outside the image counts as zero.
The sample times the mask, times weight [oc][c][kh][kw], summed, + bias, fused activation.

Lowered without an ONNX DeformConv (onnxruntime's CPU has none): per-tap positions and bilinear
weights computed with ncnn's float ops, the four corners fetched by GatherElements, then the
im2col columns (c * k, outh * outw) multiplied by the weight matrix. ncnn has one offset group
and one group only. Differences from ncnn: negative pads (ncnn has no SAME mode here and computes
a wrong size), an offset/mask blob of another shape (ncnn reads out of bounds) raise an error.
"""
import itertools

import numpy as np
import onnx

from ncnnlike.layers import conv_params, deconv_nd
from ncnnlike.layers.deconv_nd import fail
from ncnnlike.layers import checks

TYPE = "DeformableConv2D"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 5 6 9 [-23310]
PARAMS = (conv_params.NUM_OUTPUT,) + conv_params.window(rank=2) + conv_params.weight_and_activation()


def weights(p):
    """weight (tagged) [num_output][c][kernel_h][kernel_w], then bias raw x num_output."""
    return conv_params.weight_and_bias(p)


def out_shape(layer, p, c, h, w):
    """(outh, outw) after checking the params ncnn can run on a (c, h, w) bottom."""
    if min(p.kernel_w, p.kernel_h, p.stride_w, p.stride_h, p.dilation_w, p.dilation_h) < 1:
        raise fail(layer, "kernel, stride and dilation must be >= 1")
    if min(p.pad_left, p.pad_right, p.pad_top, p.pad_bottom) < 0:
        raise fail(layer, "negative pads are not supported by ncnn's DeformableConv2D")
    if p.num_output < 1 or p.weight_data_size != p.num_output * c * p.kernel_h * p.kernel_w:
        raise fail(layer, "weight_data_size %d does not match num_output %d x %d channels x %dx%d kernel"
                   % (p.weight_data_size, p.num_output, c, p.kernel_h, p.kernel_w))
    out_h = (h + p.pad_top + p.pad_bottom - p.dilation_h * (p.kernel_h - 1) - 1) // p.stride_h + 1
    out_w = (w + p.pad_left + p.pad_right - p.dilation_w * (p.kernel_w - 1) - 1) // p.stride_w + 1
    if out_h < 1 or out_w < 1:
        raise fail(layer, "the kernel does not fit the %dx%d bottom" % (h, w))
    return out_h, out_w


def check_bottoms(ctx, layer, p, out_hw):
    """2 or 3 bottoms: offset (2k, outh, outw) and mask (k, outh, outw) with k = kernel_h * kernel_w."""
    if len(layer.bottoms) not in (2, 3):
        raise fail(layer, "takes 2 or 3 bottoms (x, offset[, mask]), got %d" % len(layer.bottoms))
    k = p.kernel_h * p.kernel_w
    for i, name, channels in ((1, "offset", 2 * k), (2, "mask", k))[:len(layer.bottoms) - 1]:
        shape = ctx.in_shape(layer, i)
        if shape != (channels,) + out_hw:
            raise fail(layer, "%s blob must have shape %s, got %s" % (name, (channels,) + out_hw, shape))


def tap_base(p, out_hw, axis):
    """Integer tap positions before the offset, (k, outh, outw) float32, for axis 'h' or 'w'."""
    out_h, out_w = out_hw
    i, j = np.meshgrid(np.arange(p.kernel_h), np.arange(p.kernel_w), indexing="ij")
    oh, ow = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    if axis == "h":
        pos = (oh * p.stride_h - p.pad_top)[None] + (i * p.dilation_h).reshape(-1, 1, 1)
    else:
        pos = (ow * p.stride_w - p.pad_left)[None] + (j * p.dilation_w).reshape(-1, 1, 1)
    return pos.astype(np.float32)


def f32(ctx, value):
    """A float32 scalar constant."""
    return ctx.const(np.float32(value))


def axis_corners(ctx, pos, size):
    """For sample positions `pos` on an axis of `size`: whether each is inside (-1, size), and the
    (position, bilinear weight, in-image flag) of its low and high corners, as ncnn computes them."""
    inside = ctx.op("And", [ctx.op("Greater", [pos, f32(ctx, -1)]), ctx.op("Less", [pos, f32(ctx, size)])])
    low = ctx.op("Floor", [pos])
    frac = ctx.op("Sub", [pos, low])
    low_corner = (low, ctx.op("Sub", [f32(ctx, 1), frac]), ctx.op("GreaterOrEqual", [low, f32(ctx, 0)]))
    high_corner = (ctx.op("Add", [low, f32(ctx, 1)]), frac, ctx.op("LessOrEqual", [low, f32(ctx, size - 2)]))
    return inside, (low_corner, high_corner)


def corner_index(ctx, inside, hpos, wpos, h, w):
    """Flat index hpos * w + wpos of a corner, clamped into the image (the value is masked anyway)."""
    def as_int(pos, size):
        safe = ctx.op("Where", [inside, pos, f32(ctx, 0)])
        clipped = ctx.op("Clip", [safe, f32(ctx, 0), f32(ctx, size - 1)])
        return ctx.op("Cast", [clipped], to=onnx.TensorProto.INT64)
    return ctx.op("Add", [ctx.op("Mul", [as_int(hpos, h), ctx.ints(w)]), as_int(wpos, w)])


def tap_positions(ctx, layer, p, out_hw):
    """{'h': ..., 'w': ...}: where each tap samples, (N, k, outh, outw) float32."""
    offset = ctx.op("Reshape", [ctx.bottom(layer, 1), ctx.ints([0, -1, 2, out_hw[0], out_hw[1]])])
    return {axis: ctx.op("Add", [ctx.const(tap_base(p, out_hw, axis)),
                                 ctx.op("Gather", [offset, ctx.ints(i)], axis=2)])
            for i, axis in enumerate("hw")}


def sample(ctx, layer, p, shape, out_hw):
    """Bilinear samples of every tap, mask applied: (N, c, k * outh * outw). The four corner terms
    w1*v1 + w2*v2 + w3*v3 + w4*v4 in ncnn's order, a corner outside the image counting as zero."""
    c, h, w = shape
    size = p.kernel_h * p.kernel_w * out_hw[0] * out_hw[1]

    def flat(t):
        """(N, k, outh, outw) -> (N, 1, k * outh * outw), broadcasting over channels."""
        return ctx.op("Reshape", [t, ctx.ints([0, 1, size])])
    pos = tap_positions(ctx, layer, p, out_hw)
    inside_h, h_corners = axis_corners(ctx, pos["h"], h)
    inside_w, w_corners = axis_corners(ctx, pos["w"], w)
    inside = ctx.op("And", [inside_h, inside_w])
    data = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, h * w])])
    val = None
    for (hc, hweight, h_ok), (wc, wweight, w_ok) in itertools.product(h_corners, w_corners):
        index = ctx.op("Expand", [flat(corner_index(ctx, inside, hc, wc, h, w)), ctx.ints([1, c, 1])])
        value = ctx.op("GatherElements", [data, index], axis=2)
        ok = flat(ctx.op("And", [inside, ctx.op("And", [h_ok, w_ok])]))
        product = ctx.op("Mul", [flat(ctx.op("Mul", [hweight, wweight])), value])
        term = ctx.op("Where", [ok, product, f32(ctx, 0)])
        val = term if val is None else ctx.op("Add", [val, term])
    if len(layer.bottoms) == 3:
        val = ctx.op("Mul", [val, flat(ctx.bottom(layer, 2))])
    return val


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    if len(shape) != 3:
        raise fail(layer, "expects a 3-D (c, h, w) bottom, got shape %s" % (shape,))
    c = shape[0]
    out_hw = out_shape(layer, p, *shape)
    check_bottoms(ctx, layer, p, out_hw)
    k = p.kernel_h * p.kernel_w
    cols = ctx.op("Reshape", [sample(ctx, layer, p, shape, out_hw), ctx.ints([0, c * k, out_hw[0] * out_hw[1]])])
    w = layer.weight("weight_data").reshape(p.num_output, c * k)
    y = ctx.op("MatMul", [ctx.const(w, layer.name + "_w"), cols])
    if p.bias_term:
        y = ctx.op("Add", [y, ctx.const(layer.weight("bias_data").reshape(-1, 1), layer.name + "_b")])
    y = ctx.op("Reshape", [y, ctx.ints([0, p.num_output, out_hw[0], out_hw[1]])])
    ctx.top(layer, 0, deconv_nd.activation(ctx, layer, p, y), (p.num_output,) + out_hw)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "num_output")
    checks.geometry(p, ("kernel_w", "kernel_h"), ("stride_w", "stride_h"), ("dilation_w", "dilation_h"))
    checks.pads(p, same_pads=False)
    checks.activation(p)
    checks.blob_count(p, (2, 3), 1)
    checks.multiple(p, "weight_data_size", p.num_output * p.kernel_w * p.kernel_h, "num_output x kernel")
