"""Pooling (spec 3, pooling.cpp): max/avg, global, adaptive, the four pad modes; lowering to ONNX pools.

Padding is done explicitly (ncnn's bordered blob: -FLT_MAX for max, 0 for avg) and the pool runs
unpadded, so window placement and output size are ncnn's by construction. For avg pooling with
avgpool_count_include_pad=0 the divisor is ncnn's per-window `area` (rows inside
[pad_top, h' - pad_bottom - htailpad) times columns likewise), applied as a constant factor maxk/area.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Link, Param

TYPE = "Pooling"

POOL_MAX, POOL_AVG = 0, 1
FLT_MAX = np.float32(3.4028234663852886e38)

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] [14] [15] 4 5 6 7 8 [18]
PARAMS = (
    Param(0, "pooling_type", 0),
    Param(1, "kernel_w", 0),
    Param(11, "kernel_h", Link(1)),
    Param(2, "stride_w", 1),
    Param(12, "stride_h", Link(2)),
    Param(3, "pad_left", 0),
    Param(13, "pad_top", Link(3)),
    Param(14, "pad_right", Link(3)),
    Param(15, "pad_bottom", Link(13)),
    Param(4, "global_pooling", 0),
    Param(5, "pad_mode", 0),
    Param(6, "avgpool_count_include_pad", 0),
    Param(7, "adaptive_pooling", 0),
    Param(8, "out_w", 0),
    Param(18, "out_h", Link(8)),
)


def c_div(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def c_mod(a, b):
    """C remainder (sign of the dividend)."""
    return a - b * c_div(a, b)


def border_1d(mode, size, kernel, stride, pad_lo, pad_hi):
    """ncnn make_padding along one axis: (lo, hi) border added, and the tail pad of full mode."""
    if mode == 0:    # full: caffe ceil mode, extra pad at the end so the last window fits
        tail = c_mod(size + pad_lo + pad_hi - kernel, stride)
        tailpad = stride - tail if tail != 0 else 0
        return pad_lo, pad_hi + tailpad, tailpad
    if mode == 1:    # valid: the explicit pads only
        return pad_lo, pad_hi, 0
    if mode in (2, 3):  # SAME_UPPER / SAME_LOWER; a negative total only trims rows no window reads
        total = kernel + c_div(size - 1, stride) * stride - size
        small, big = max(c_div(total, 2), 0), max(total - c_div(total, 2), 0)
        return (small, big, 0) if mode == 2 else (big, small, 0)
    raise ValueError("pad_mode %d" % mode)


def geometry(p, h, w):
    """((top, bottom), (left, right)) borders, (out_h, out_w), and per-axis valid ranges for the area."""
    top, bottom, htail = border_1d(p.pad_mode, h, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom)
    left, right, wtail = border_1d(p.pad_mode, w, p.kernel_w, p.stride_w, p.pad_left, p.pad_right)
    bh, bw = h + top + bottom, w + left + right
    out_h = c_div(bh - p.kernel_h, p.stride_h) + 1
    out_w = c_div(bw - p.kernel_w, p.stride_w) + 1
    valid_h = (p.pad_top, bh - p.pad_bottom - htail)
    valid_w = (p.pad_left, bw - p.pad_right - wtail)
    return (top, bottom), (left, right), (out_h, out_w), (valid_h, valid_w)


def window_counts(n_out, kernel, stride, valid):
    """How many of each window's positions fall inside [valid[0], valid[1]) (pooling.cpp area loop)."""
    starts = np.arange(n_out) * stride
    lo = np.maximum(starts, valid[0])
    hi = np.minimum(starts + kernel, valid[1])
    return np.maximum(hi - lo, 0)


def avg_factor(p, out_hw, valid):
    """maxk/area per output position for count_include_pad=0, or None when area == maxk everywhere."""
    rows = window_counts(out_hw[0], p.kernel_h, p.stride_h, valid[0])
    cols = window_counts(out_hw[1], p.kernel_w, p.stride_w, valid[1])
    area = np.outer(rows, cols).astype(np.float32)
    maxk = np.float32(p.kernel_h * p.kernel_w)
    if np.all(area == maxk):
        return None
    with np.errstate(divide="ignore"):
        return (maxk / area).astype(np.float32)   # area 0 gives inf, so 0*inf = nan as ncnn's 0/0


def lower_global(ctx, layer, p, x, c):
    op = "ReduceMax" if p.pooling_type == POOL_MAX else "ReduceMean"
    ctx.top(layer, 0, ctx.op(op, [x], axes=[2, 3], keepdims=0), (c,))


def lower_window(ctx, layer, p, x, c, h, w):
    """Windowed pooling over the bordered blob (pooling.cpp forward + make_padding)."""
    if p.kernel_w <= 0 or p.kernel_h <= 0 or p.stride_w <= 0 or p.stride_h <= 0:
        raise NcnnlikeError("layer %s (Pooling): kernel and stride must be positive" % layer.name)
    (top, bottom), (left, right), out_hw, valid = geometry(p, h, w)
    if out_hw[0] <= 0 or out_hw[1] <= 0:
        raise NcnnlikeError("layer %s (Pooling): kernel %dx%d larger than the padded input %dx%d"
                            % (layer.name, p.kernel_h, p.kernel_w, h + top + bottom, w + left + right))
    if top or bottom or left or right:
        value = -FLT_MAX if p.pooling_type == POOL_MAX else np.float32(0)
        x = ctx.op("Pad", [x, ctx.ints([0, 0, top, left, 0, 0, bottom, right]), ctx.const(value)])
    attrs = dict(kernel_shape=[p.kernel_h, p.kernel_w], strides=[p.stride_h, p.stride_w])
    if p.pooling_type == POOL_MAX:
        y = ctx.op("MaxPool", [x], **attrs)
    else:
        y = ctx.op("AveragePool", [x], count_include_pad=1, **attrs)
        factor = None if p.avgpool_count_include_pad else avg_factor(p, out_hw, valid)
        if factor is not None:
            y = ctx.op("Mul", [y, ctx.const(factor, layer.name + "_area")])
    ctx.top(layer, 0, y, (c,) + out_hw)


def adaptive_bounds(size, n_out):
    """[floor(size*i/n), ceil(size*(i+1)/n)) for each output index (pooling.cpp adaptive branch)."""
    return [(size * i // n_out, (size * (i + 1) + n_out - 1) // n_out) for i in range(n_out)]


def lower_adaptive(ctx, layer, p, x, c, h, w):
    out_w = w if p.out_w == -233 else p.out_w
    out_h = h if p.out_h == -233 else p.out_h
    if out_w <= 0 or out_h <= 0:
        raise NcnnlikeError("layer %s (Pooling): adaptive out_w/out_h must be positive, got %d/%d"
                            % (layer.name, out_w, out_h))
    if (out_h, out_w) == (h, w):
        ctx.top(layer, 0, x, (c, h, w))
        return
    if p.pooling_type == POOL_AVG:
        y = x
        for axis, size, n in ((3, w, out_w), (2, h, out_h)):
            m = np.zeros((size, n), np.float32)
            for i, (a, b) in enumerate(adaptive_bounds(size, n)):
                m[a:b, i] = np.float32(1) / np.float32(b - a)
            if axis == 3:
                y = ctx.op("MatMul", [y, ctx.const(m, layer.name + "_aw")])
            else:
                y = ctx.op("MatMul", [ctx.const(np.ascontiguousarray(m.T), layer.name + "_ah"), y])
    else:
        y = x
        for axis, size, n in ((2, h, out_h), (3, w, out_w)):
            parts = [ctx.op("ReduceMax", [ctx.op("Slice", [y, ctx.ints([a]), ctx.ints([b]), ctx.ints([axis])])],
                            axes=[axis], keepdims=1) for a, b in adaptive_bounds(size, n)]
            y = ctx.op("Concat", parts, axis=axis) if len(parts) > 1 else parts[0]
    ctx.top(layer, 0, y, (c, out_h, out_w))


def lower(layer, p, ctx):
    if p.pooling_type not in (POOL_MAX, POOL_AVG):
        raise NcnnlikeError("layer %s (Pooling): unknown pooling_type %d (0 max, 1 avg)" % (layer.name, p.pooling_type))
    if p.pad_mode not in (0, 1, 2, 3):
        raise NcnnlikeError("layer %s (Pooling): unknown pad_mode %d (0..3)" % (layer.name, p.pad_mode))
    shape = ctx.in_shape(layer)
    x = ctx.bottom(layer)
    if len(shape) == 2:     # a 2-D blob pools as one channel (w, h, c=1)
        x = ctx.op("Unsqueeze", [x, ctx.ints([1])])
        shape = (1,) + tuple(shape)
    if len(shape) != 3:
        raise NcnnlikeError("layer %s (Pooling): expects a 2-D or 3-D bottom, got shape %s" % (layer.name, shape))
    c, h, w = shape
    if p.global_pooling:
        lower_global(ctx, layer, p, x, c)
    elif p.adaptive_pooling:
        lower_adaptive(ctx, layer, p, x, c, h, w)
    else:
        lower_window(ctx, layer, p, x, c, h, w)
