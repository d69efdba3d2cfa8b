"""Unfold (unfold.cpp): im2col. A (c, h, w) blob (a 2-D (h, w) blob is one channel) becomes the 2-D
blob (c * kernel_h * kernel_w, outh * outw): row (p * kernel_h + u) * kernel_w + v, column
i * outw + j holds the padded input at (i * stride_h + u * dilation_h, j * stride_w + v * dilation_w).

Padding as Unfold::make_padding: the explicit pads (border filled with 18=pad_value) when any is
> 0; SAME_UPPER / SAME_LOWER when all four pads are -233 / -234 (applied only if the h or w total
is > 0); else none. Pure data movement, lowered to Pad + Gather: exact. Differences from ncnn: a
negative border (an explicit pad < 0 beside a positive one, or a negative SAME total beside a
positive one) raises an error: ncnn's copy_make_border does not crop, it writes out of bounds
(padding.cpp copy_make_border_image; pip ncnn segfaults or drops the wrong rows); so does a kernel
larger than the padded input.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import conv_params
from ncnnlike.layers import checks

TYPE = "Unfold"

# ModelWriter order: 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 18
PARAMS = conv_params.window(rank=2) + (conv_params.PAD_VALUE,)


def fail(layer, message):
    return NcnnlikeError("layer %s (Unfold): %s" % (layer.name, message))


def half(v):
    """v / 2 as C rounds it (towards zero), for a negative SAME total."""
    return int(v / 2)


def border(p, h, w):
    """(top, bottom, left, right) that make_padding adds to an (h, w) image."""
    pads = (p.pad_top, p.pad_bottom, p.pad_left, p.pad_right)
    if any(v > 0 for v in pads):
        return pads
    if pads in ((-233,) * 4, (-234,) * 4):
        ext_h = p.dilation_h * (p.kernel_h - 1) + 1
        ext_w = p.dilation_w * (p.kernel_w - 1) + 1
        hpad = ext_h + (h - 1) // p.stride_h * p.stride_h - h
        wpad = ext_w + (w - 1) // p.stride_w * p.stride_w - w
        if hpad > 0 or wpad > 0:
            if pads[0] == -233:   # SAME_UPPER: the larger half at bottom/right
                return half(hpad), hpad - half(hpad), half(wpad), wpad - half(wpad)
            return hpad - half(hpad), half(hpad), wpad - half(wpad), half(wpad)
    return 0, 0, 0, 0


def gather_index(p, bordered_w, out_h, out_w):
    """Flat positions in the padded image, ordered (u, v, i, j) as ncnn's im2col rows/columns."""
    u, v, i, j = np.meshgrid(np.arange(p.kernel_h), np.arange(p.kernel_w), np.arange(out_h), np.arange(out_w),
                             indexing="ij")
    rows = u * p.dilation_h + i * p.stride_h
    cols = v * p.dilation_w + j * p.stride_w
    return (rows * bordered_w + cols).reshape(-1)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    x = ctx.bottom(layer)
    if len(shape) == 2:
        x, shape = ctx.op("Unsqueeze", [x, ctx.ints([1])]), (1,) + tuple(shape)
    if len(shape) != 3:
        raise fail(layer, "expects a 3-D (c, h, w) or 2-D (h, w) bottom, got shape %s" % (shape,))
    if min(p.kernel_w, p.kernel_h, p.stride_w, p.stride_h, p.dilation_w, p.dilation_h) < 1:
        raise fail(layer, "kernel, stride and dilation must be >= 1")
    c, h, w = shape
    top, bottom, left, right = border(p, h, w)
    if min(top, bottom, left, right) < 0:
        raise fail(layer, "border (top, bottom, left, right) %s has a negative side: ncnn's copy_make_border"
                   " writes out of bounds there" % ((top, bottom, left, right),))
    bh, bw = h + top + bottom, w + left + right
    ext_h = p.dilation_h * (p.kernel_h - 1) + 1
    ext_w = p.dilation_w * (p.kernel_w - 1) + 1
    if bh < ext_h or bw < ext_w:
        raise fail(layer, "the %dx%d kernel extent does not fit the %dx%d padded input" % (ext_h, ext_w, bh, bw))
    if any((top, bottom, left, right)):
        x = ctx.op("Pad", [x, ctx.ints([0, 0, top, left, 0, 0, bottom, right]),
                           ctx.const(np.float32(p.pad_value))])
    out_h, out_w = (bh - ext_h) // p.stride_h + 1, (bw - ext_w) // p.stride_w + 1
    k = p.kernel_h * p.kernel_w
    flat = ctx.op("Reshape", [x, ctx.ints([0, c, bh * bw])])
    cols = ctx.op("Gather", [flat, ctx.ints(gather_index(p, bw, out_h, out_w))], axis=2)
    y = ctx.op("Reshape", [cols, ctx.ints([0, c * k, out_h * out_w])])
    ctx.top(layer, 0, y, (c * k, out_h * out_w))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.geometry(p, ("kernel_w", "kernel_h"), ("stride_w", "stride_h"), ("dilation_w", "dilation_h"))
    checks.between(p, -checks.MAX_PAD, checks.MAX_PAD, "pad_left", "pad_right", "pad_top", "pad_bottom")
    checks.finite(p, 'pad_value')
