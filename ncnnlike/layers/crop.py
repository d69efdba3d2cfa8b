"""Crop (spec 3, crop.cpp): offsets + sizes, numpy-style starts/ends/axes, or crop to a reference blob.

Every form resolves to an offset and a size per ncnn axis; axes are in numpy order without batch
(3-D: 0=c, 1=h, 2=w; 4-D: 0=c, 1=d, 2=h, 3=w), which is exactly ncnn's numpy-style axis numbering.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Crop"

ABSENT = -233

# ModelWriter order: 0 1 13 2 3 4 14 5 6 7 15 8 [-23309] [-23310] [-23311], then the expressions
PARAMS = (
    Param(0, "woffset", 0),
    Param(1, "hoffset", 0),
    Param(13, "doffset", 0),
    Param(2, "coffset", 0),
    Param(3, "outw", 0),
    Param(4, "outh", 0),
    Param(14, "outd", 0),
    Param(5, "outc", 0),
    Param(6, "woffset2", 0),
    Param(7, "hoffset2", 0),
    Param(15, "doffset2", 0),
    Param(8, "coffset2", 0),
    Param(9, "starts", []),
    Param(10, "ends", []),
    Param(11, "axes", []),
    Param(19, "starts_expr", ""),
    Param(20, "ends_expr", ""),
    Param(21, "axes_expr", ""),
)


def numpy_style(p, shape):
    """(offsets, sizes) from starts/ends/axes: -233 means the edge, end <= 0 counts from the end
    (so end 0 is the whole axis), ends clamp to the size (resolve_crop_roi)."""
    rank = len(shape)
    offsets, sizes = [0] * rank, list(shape)
    axes = [a + rank if a < 0 else a for a in p.axes] if p.axes else list(range(rank))
    if len(p.starts) < len(axes) or len(p.ends) < len(axes):
        raise ValueError("starts/ends have fewer entries than the %d axes" % len(axes))
    for i, axis in enumerate(axes):
        axis = 0 if rank == 1 else axis
        if not 0 <= axis < rank:
            raise ValueError("axis %d out of range for a %d-D blob" % (p.axes[i], rank))
        n = shape[axis]
        start = 0 if p.starts[i] == ABSENT else p.starts[i]
        end = n if p.ends[i] == ABSENT else p.ends[i]
        offsets[axis] = start if start >= 0 else n + start
        sizes[axis] = min(n, end if end > 0 else n + end) - offsets[axis]
    return offsets, sizes


def offset_style(p, shape):
    """(offsets, sizes) from the offsets, far-side offsets (*offset2) and sizes (-233 = no limit)."""
    by_axis = {"c": (p.coffset, p.coffset2, p.outc), "d": (p.doffset, p.doffset2, p.outd),
               "h": (p.hoffset, p.hoffset2, p.outh), "w": (p.woffset, p.woffset2, p.outw)}
    names = {1: "w", 2: "hw", 3: "chw", 4: "cdhw"}[len(shape)]
    offsets, sizes = [], []
    for name, n in zip(names, shape):
        offset, offset2, out = by_axis[name]
        size = n - offset - offset2
        offsets.append(offset)
        sizes.append(size if out == ABSENT else min(out, size))
    return offsets, sizes


def reference_style(p, shape, ref):
    """(offsets, sizes) cropping to the reference blob's w, h, d (and c when it has as many dims)."""
    rank = len(shape)
    ref_w, ref_h = ref[-1], ref[-2] if len(ref) >= 2 else 1
    ref_d = ref[1] if len(ref) == 4 else 1
    offsets = {1: [p.woffset], 2: [p.hoffset, p.woffset], 3: [p.coffset, p.hoffset, p.woffset],
               4: [p.coffset, p.doffset, p.hoffset, p.woffset]}[rank]
    c = ref[0] if len(ref) == rank else shape[0]
    sizes = {1: [ref_w], 2: [ref_h, ref_w], 3: [c, ref_h, ref_w], 4: [c, ref_d, ref_h, ref_w]}[rank]
    return offsets, sizes


def uses_reference(p):
    """ncnn's rule for the two-bottom form: no size, no far offset, no numpy-style slice."""
    return not any((p.outw, p.outh, p.outd, p.outc, p.woffset2, p.hoffset2, p.doffset2, p.coffset2)) \
        and not (p.starts and p.ends)


def resolve_roi(layer, p, ctx):
    """(offsets, sizes) per numpy axis, or a clear error for forms we cannot run."""
    shape = ctx.in_shape(layer)
    if p.starts_expr or p.ends_expr or p.axes_expr:
        raise ValueError("expression params (19/20/21) are not supported")
    if p.starts and p.ends:
        return numpy_style(p, shape)
    if uses_reference(p):
        if len(layer.bottoms) < 2:
            raise ValueError("no size params, so a reference blob (second bottom) is needed")
        if p.woffset == ABSENT:
            raise ValueError("offsets read from the reference blob's values (0=-233) are not supported")
        return reference_style(p, shape, ctx.in_shape(layer, 1))
    return offset_style(p, shape)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    if not 1 <= len(shape) <= 4:
        raise NcnnlikeError("layer %s (Crop): unsupported bottom shape %s" % (layer.name, shape))
    try:
        offsets, sizes = resolve_roi(layer, p, ctx)
    except ValueError as exc:
        raise NcnnlikeError("layer %s (Crop): %s" % (layer.name, exc)) from None
    for o, s, n in zip(offsets, sizes, shape):
        if o < 0 or s <= 0 or o + s > n:
            raise NcnnlikeError("layer %s (Crop): crop offsets %s sizes %s do not fit the bottom %s"
                                % (layer.name, offsets, sizes, shape))
    x = ctx.bottom(layer)
    if list(sizes) == list(shape):
        ctx.top(layer, 0, x, shape)
        return
    axes = [i for i, (o, s, n) in enumerate(zip(offsets, sizes, shape)) if (o, s) != (0, n)]
    y = ctx.op("Slice", [x, ctx.ints([offsets[i] for i in axes]), ctx.ints([offsets[i] + sizes[i] for i in axes]),
                         ctx.ints([i + 1 for i in axes])])
    ctx.top(layer, 0, y, tuple(sizes))


BLOBS = ((1, 2), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.axes(p, "axes")
    checks.at_least(p, -1, "outw", "outh", "outd", "outc")
