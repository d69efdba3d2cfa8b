"""Fold (fold.cpp): col2im, the inverse layout of Unfold. A 2-D blob (c * kernel_h * kernel_w, L)
becomes (c, output_h, output_w): every column i * inw + j of row (p * kernel_h + u) * kernel_w + v
is added into channel p of the padded output at (i * stride_h + u * dilation_h,
j * stride_w + v * dilation_w), then the pads are cut away.

The padded output is (output_h + pad_top + pad_bottom, output_w + pad_left + pad_right), with
inh x inw = L sliding positions; ncnn cuts the border only when some pad is > 0 (non-positive pads
just shrink the output). Lowered to ScatterElements(reduction=add), which adds in ncnn's order
(kernel tap by tap, onto zeros): exact. Differences from ncnn: L != inh * inw, h not a multiple of
kernel_h * kernel_w (ncnn reads past its rows or drops them) and pads mixing positive and negative
values raise an error.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import conv_params
from ncnnlike.layers import checks

TYPE = "Fold"

# ModelWriter order: 1 [11] 2 [12] 3 [13] 4 [14] [15] [16] 20 [21]
PARAMS = conv_params.window(rank=2) + conv_params.output_sizes(rank=2)


def fail(layer, message):
    return NcnnlikeError("layer %s (Fold): %s" % (layer.name, message))


def geometry(layer, p, rows, length):
    """(channels, bordered (h, w), sliding (inh, inw)) after checking what ncnn can run."""
    if min(p.kernel_w, p.kernel_h, p.stride_w, p.stride_h, p.dilation_w, p.dilation_h) < 1:
        raise fail(layer, "kernel, stride and dilation must be >= 1")
    if p.output_w < 1 or p.output_h < 1:
        raise fail(layer, "output_w %d and output_h %d must be >= 1" % (p.output_w, p.output_h))
    pads = (p.pad_top, p.pad_bottom, p.pad_left, p.pad_right)
    if any(v > 0 for v in pads) and any(v < 0 for v in pads):
        raise fail(layer, "pads %s mix positive and negative values" % (pads,))
    k = p.kernel_h * p.kernel_w
    if rows % k:
        raise fail(layer, "bottom h %d is not a multiple of kernel_h x kernel_w = %d" % (rows, k))
    bh = p.output_h + p.pad_top + p.pad_bottom
    bw = p.output_w + p.pad_left + p.pad_right
    inh = (bh - p.dilation_h * (p.kernel_h - 1) - 1) // p.stride_h + 1
    inw = (bw - p.dilation_w * (p.kernel_w - 1) - 1) // p.stride_w + 1
    if inh < 1 or inw < 1 or inh * inw != length:
        raise fail(layer, "output %dx%d with these pads/kernel/stride slides %dx%d positions, the bottom has w %d"
                   % (p.output_h, p.output_w, max(inh, 0), max(inw, 0), length))
    return rows // k, (bh, bw), (inh, inw)


def scatter_index(p, bordered_w, inh, inw):
    """Flat positions in the bordered output, ordered (u, v, i, j) as ncnn's col2im reads its input."""
    u, v, i, j = np.meshgrid(np.arange(p.kernel_h), np.arange(p.kernel_w), np.arange(inh), np.arange(inw),
                             indexing="ij")
    return ((u * p.dilation_h + i * p.stride_h) * bordered_w + v * p.dilation_w + j * p.stride_w).reshape(1, 1, -1)


def zeros_like_batch(ctx, x, tail):
    """Zeros (N, *tail) for the batch of x."""
    batch = ctx.op("Slice", [ctx.op("Shape", [x]), ctx.ints([0]), ctx.ints([1])])
    shape = ctx.op("Concat", [batch, ctx.ints(list(tail))], axis=0)
    return ctx.op("ConstantOfShape", [shape])


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    if len(shape) != 2:
        raise fail(layer, "expects a 2-D (c * kernel_h * kernel_w, L) bottom, got shape %s" % (shape,))
    c, (bh, bw), (inh, inw) = geometry(layer, p, *shape)
    updates = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0, c, shape[0] // c * shape[1]])])
    index = ctx.op("Expand", [ctx.ints(scatter_index(p, bw, inh, inw)), ctx.op("Shape", [updates])])
    y = ctx.op("ScatterElements", [zeros_like_batch(ctx, updates, (c, bh * bw)), index, updates],
               axis=2, reduction="add")
    y = ctx.op("Reshape", [y, ctx.ints([0, c, bh, bw])])
    top, bottom, left, right = (max(v, 0) for v in (p.pad_top, p.pad_bottom, p.pad_left, p.pad_right))
    if top or bottom or left or right:
        y = ctx.op("Slice", [y, ctx.ints([top, left]), ctx.ints([bh - bottom, bw - right]), ctx.ints([2, 3])])
    ctx.top(layer, 0, y, (c, bh - top - bottom, bw - left - right))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.geometry(p, ("kernel_w", "kernel_h"), ("stride_w", "stride_h"), ("dilation_w", "dilation_h"))
    checks.between(p, -checks.MAX_PAD, checks.MAX_PAD, "pad_left", "pad_right", "pad_top", "pad_bottom")
    checks.between(p, 1, 1 << 16, "output_w", "output_h")
