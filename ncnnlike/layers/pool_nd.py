"""Shared by Pooling, Pooling1D and Pooling3D (pooling.cpp, pooling1d.cpp, pooling3d.cpp): params
of the three types, and the lowering of global, adaptive and windowed max/avg pooling to ONNX.

Windowed pooling borders the bottom explicitly (-FLT_MAX for max, 0 for avg; pad modes, negative
borders and what is refused in nd_geometry) and pools it unpadded, so window placement and output
size are ncnn's by construction. Avg with avgpool_count_include_pad=0 divides by ncnn's per-window
`area`: the window positions inside [pad_lo, bordered - pad_hi - tailpad) along every axis, where
pad_lo / pad_hi are the *params* even in the SAME modes (so there the SAME border counts in the
area), applied as a constant factor maxk / area on a count-include-pad AveragePool.

Pooling (rank 2) runs on pip ncnn's x86 kernel, which pools channel-packed blobs (net.cpp packs
channels by 4, 8 or 16; a 2-D blob by its rows): a negative border is refused when channels % 4 == 0
(nd_geometry.check_packed), and so is a 2-D (h, w) bottom with h % 4 == 0 unless adaptive (ncnn
pools its packed rows as channels: wrong shapes, -100 or a crash); other 2-D bottoms pool as one
channel, as pooling.cpp does.
"""
import string

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import nd_geometry as geo
from ncnnlike.layers.base import Param
from ncnnlike.layers.window_params import pads, per_axis

POOL_MAX, POOL_AVG = 0, 1
FLT_MAX = np.float32(3.4028234663852886e38)
X86_PACK = 4    # net.cpp: the smallest elempack of a packed fp32 blob

MODES = (Param(4, "global_pooling", 0), Param(5, "pad_mode", 0), Param(6, "avgpool_count_include_pad", 0),
         Param(7, "adaptive_pooling", 0))


def params(rank):
    """The Pooling / Pooling1D / Pooling3D schema in ModelWriter order (modelwriter.h):
    0 1 [11 21] 2 [12 22] 3 [13 23] [14] [15] [16] 4 5 6 7 8 [18 28]: kernel, stride and pads per
    axis (no dilation, so the ids sit one below the convolutions'), the modes, the adaptive out sizes."""
    return ((Param(0, "pooling_type", 0),) + per_axis(rank, 1, "kernel", 0) + per_axis(rank, 2, "stride", 1)
            + pads(rank, 3, 14) + MODES + per_axis(rank, 8, "out", 0))


def fail(layer, message):
    return NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, message))


BOTTOM_KINDS = {1: "a 2-D (h, w) or 1-D", 2: "a 3-D (c, h, w) or 2-D (h, w)",
                3: "a 4-D (c, d, h, w) or 3-D (c, h, w)"}


def spatial_bottom(ctx, layer, rank):
    """(tensor, channels, sizes, lifted): Pooling1D takes a 2-D (h, w) blob (a 1-D one pools as
    h = 1), Pooling a 3-D (c, h, w) one (a 2-D one pools as c = 1), Pooling3D a 4-D (c, d, h, w)
    one (a 3-D one pools as d = 1: nd_geometry.check_lifted_depth), as ncnn's Mat rows / channels /
    depths do. lifted: the bottom has one axis less than `rank` + 1."""
    shape = tuple(ctx.in_shape(layer))
    x = ctx.bottom(layer)
    lifted = len(shape) == rank
    if lifted:
        axis = 2 if rank == 3 else 1
        x = ctx.op("Unsqueeze", [x, ctx.ints([axis])])
        shape = shape[:axis - 1] + (1,) + shape[axis - 1:]
    if len(shape) != rank + 1:
        raise fail(layer, "expects %s bottom, got shape %s" % (BOTTOM_KINDS[rank], shape))
    return x, shape[0], list(shape[1:]), lifted


def check_packed_rows(layer, p, rank, lifted, sizes):
    """Refuse what pip ncnn's x86 Pooling gets wrong on a 2-D bottom: rows packed as channels."""
    if rank == 2 and lifted and not p.adaptive_pooling and sizes[0] % X86_PACK == 0:
        raise fail(layer, "a 2-D bottom of h = %d rows, a multiple of %d: pip ncnn's x86 Pooling packs its "
                   "rows and pools them as channels there (wrong shapes or a crash)" % (sizes[0], X86_PACK))


def lower_global(ctx, layer, p, x, channels, rank):
    """Max or mean over all spatial positions: a 1-D blob of `channels` values."""
    op = "ReduceMax" if p.pooling_type == POOL_MAX else "ReduceMean"
    ctx.top(layer, 0, ctx.op(op, [x], axes=list(range(2, 2 + rank)), keepdims=0), (channels,))


def adaptive_out(layer, p, sizes, rank):
    """Adaptive output sizes; Pooling and Pooling3D map -233 to the input size, Pooling1D takes out_w
    as is."""
    wanted = [getattr(p, "out_" + axis) for axis in "dhw"[3 - rank:]]
    if rank > 1:
        wanted = [n if v == -233 else v for v, n in zip(wanted, sizes)]
    if min(wanted) <= 0:
        raise fail(layer, "adaptive output sizes must be > 0, got %s" % wanted)
    return wanted


def adaptive_bounds(size, n_out):
    """[floor(size*i/n), ceil(size*(i+1)/n)) for each output index (pooling.cpp adaptive branch)."""
    return [(size * i // n_out, (size * (i + 1) + n_out - 1) // n_out) for i in range(n_out)]


def adaptive_avg_axis(ctx, layer, y, axis, size, n, rank):
    """Mean over each adaptive window along one axis: an Einsum with a (size, n) averaging matrix."""
    m = np.zeros((size, n), np.float32)
    for i, (a, b) in enumerate(adaptive_bounds(size, n)):
        m[a:b, i] = np.float32(1) / np.float32(b - a)
    letters = string.ascii_lowercase[:2 + rank]
    out = letters.replace(letters[axis], "z")
    equation = "%s,%sz->%s" % (letters, letters[axis], out)
    return ctx.op("Einsum", [y, ctx.const(m, layer.name + "_adaptive")], equation=equation)


def adaptive_max_axis(ctx, y, axis, size, n):
    """Max over each adaptive window along one axis: Slice + ReduceMax per output, Concat."""
    parts = [ctx.op("ReduceMax", [ctx.op("Slice", [y, ctx.ints([a]), ctx.ints([b]), ctx.ints([axis])])],
                    axes=[axis], keepdims=1) for a, b in adaptive_bounds(size, n)]
    return ctx.op("Concat", parts, axis=axis) if len(parts) > 1 else parts[0]


def lower_adaptive(ctx, layer, p, x, channels, sizes, rank):
    """Adaptive pooling: window i covers [floor(n*i/out), ceil(n*(i+1)/out)) along each axis."""
    out = adaptive_out(layer, p, sizes, rank)
    if rank > 1 and out == sizes:      # pooling.cpp, pooling3d.cpp: the bottom itself is the top
        ctx.top(layer, 0, ctx.bottom(layer), ctx.in_shape(layer))
        return
    y = x
    for i, (size, n) in enumerate(zip(sizes, out)):
        if p.pooling_type == POOL_MAX:
            y = adaptive_max_axis(ctx, y, 2 + i, size, n)
        else:
            y = adaptive_avg_axis(ctx, layer, y, 2 + i, size, n, rank)
    ctx.top(layer, 0, y, [channels] + out)


def window_geometry(layer, p, axes, sizes, lifted, packed):
    """(crop/pad plan, out sizes, valid range per axis for the avg area)."""
    try:
        geo.check_axes(axes)
        borders, tails = geo.pool_borders(axes, sizes, p.pad_mode)
        geo.check_lifted_depth(borders, lifted)
        geo.check_packed(borders, packed)
        out = geo.out_sizes(axes, sizes, borders)
        plan = geo.crops_and_pads(axes, sizes, borders)
    except ValueError as exc:
        raise fail(layer, str(exc)) from None
    valid = [(a.pad_lo, n + lo + hi - a.pad_hi - t) for a, n, (lo, hi), t in zip(axes, sizes, borders, tails)]
    return plan, out, valid


def window_counts(n_out, kernel, stride, valid):
    """How many of each window's positions fall inside [valid[0], valid[1]) (pooling.cpp area loop)."""
    starts = np.arange(n_out) * stride
    lo = np.maximum(starts, valid[0])
    hi = np.minimum(starts + kernel, valid[1])
    return np.maximum(hi - lo, 0)


def avg_factor(axes, out, valid):
    """maxk / area per output position, or None when every window's area is maxk."""
    counts = [window_counts(n, a.kernel, a.stride, v) for a, n, v in zip(axes, out, valid)]
    area = counts[0]
    for c in counts[1:]:
        area = np.multiply.outer(area, c)
    area = area.astype(np.float32)
    maxk = np.float32(np.prod([a.kernel for a in axes]))
    if np.all(area == maxk):
        return None
    with np.errstate(divide="ignore"):
        return (maxk / area).astype(np.float32)   # area 0 gives inf, so 0 * inf = nan as ncnn's 0 / 0


def lower_window(ctx, layer, p, x, channels, sizes, rank, lifted):
    """Windowed pooling over ncnn's bordered blob."""
    axes = geo.axes_of(p, rank)
    packed = rank == 2 and not lifted and channels % X86_PACK == 0
    plan, out, valid = window_geometry(layer, p, axes, sizes, lifted and rank == 3, packed)
    value = -FLT_MAX if p.pooling_type == POOL_MAX else np.float32(0)
    x = geo.pad(ctx, geo.crop(ctx, x, sizes, plan, 2), plan, 2, value)
    attrs = dict(kernel_shape=[a.kernel for a in axes], strides=[a.stride for a in axes])
    if p.pooling_type == POOL_MAX:
        y = ctx.op("MaxPool", [x], **attrs)
    else:
        y = ctx.op("AveragePool", [x], count_include_pad=1, **attrs)
        factor = None if p.avgpool_count_include_pad else avg_factor(axes, out, valid)
        if factor is not None:
            y = ctx.op("Mul", [y, ctx.const(factor, layer.name + "_area")])
    ctx.top(layer, 0, y, [channels] + out)


def lower(layer, p, ctx, rank):
    """Entry point of Pooling1D (rank 1), Pooling (rank 2) and Pooling3D (rank 3)."""
    if p.pooling_type not in (POOL_MAX, POOL_AVG):
        raise fail(layer, "unknown pooling_type %d (0 max, 1 avg)" % p.pooling_type)
    if p.pad_mode not in (0, 1, 2, 3):
        raise fail(layer, "unknown pad_mode %d (0 full, 1 valid, 2 SAME_UPPER, 3 SAME_LOWER)" % p.pad_mode)
    x, channels, sizes, lifted = spatial_bottom(ctx, layer, rank)
    check_packed_rows(layer, p, rank, lifted, sizes)
    if p.global_pooling:
        lower_global(ctx, layer, p, x, channels, rank)
    elif p.adaptive_pooling:
        lower_adaptive(ctx, layer, p, x, channels, sizes, rank)
    else:
        lower_window(ctx, layer, p, x, channels, sizes, rank, lifted)
