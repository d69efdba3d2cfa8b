"""Geometry shared by the convolution and pooling layers of every rank (Convolution,
ConvolutionDepthWise, Pooling and their 1-D / 3-D twins): per-axis kernel, stride, dilation and
pads, the border ncnn's make_padding adds, the output size, and the ONNX nodes that add the border.

Axes are the blob's spatial axes, in blob order after the channel axis: (w,) for the 1-D layers
(a 2-D blob (h, w) whose h is the channel axis), (h, w) for the 2-D layers, (d, h, w) for the 3-D
layers.

Negative borders. In the SAME modes a layer pads every axis by its own total
extent + (size - 1) / stride * stride - size as soon as one axis's total is > 0, so an axis whose
total is negative (kernel extent < stride) gets a negative border (never in 1-D: one axis). ncnn's
Padding (copy_make_border_image, padding.cpp) then crops rather than pads, along each axis in its
own way:
  d: a negative front / behind drops depth slices at that end;
  h: the rows kept are always the first h + top + bottom ones, so a negative top drops rows at the
     *end*;
  w: a negative left drops columns at the start, except that for w >= 12 the row copy is a memcpy
     that writes |left| values before each row (before the buffer for the first one).
A negative bottom or right makes ncnn write rows / columns past the end of its bordered blob
(padding.cpp's centre loop runs to top + h rows of left + w values whatever the destination's
size): pip ncnn then reports "pool allocator destroyed too early" or aborts in free(). Those two
cases and the memcpy one are refused here (ValueError); we give ncnn's values in all others.
The x86 2-D layers of pip ncnn pad channel-packed blobs (net.cpp packs channels by 4, 8 or 16 for
them) with padding_constant_pack*, which has no crop at all and overruns its buffer on any negative
border (pip ncnn aborts): check_packed refuses those too.
"""
from collections import namedtuple

SAME_UPPER, SAME_LOWER = -233, -234
MEMCPY_MIN_W = 12   # padding.cpp: rows of w >= 12 are copied with memcpy


def c_div(a, b):
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def c_mod(a, b):
    """C remainder (sign of the dividend)."""
    return a - b * c_div(a, b)


class Axis(namedtuple("Axis", "name kernel stride dilation pad_lo pad_hi")):
    """One spatial axis of a layer: its name ("d", "h", "w") and the params along it."""
    __slots__ = ()

    @property
    def extent(self):
        """The span of the dilated kernel."""
        return self.dilation * (self.kernel - 1) + 1


def axes_of(p, rank, kernel_w=None):
    """Axis list from resolved params: (w,) for rank 1, (h, w) for rank 2, (d, h, w) for rank 3.
    Pooling has no dilation (1); `kernel_w` overrides the param (a dynamic weight's width)."""
    dilation = lambda a: getattr(p, "dilation_" + a, 1)
    w = Axis("w", p.kernel_w if kernel_w is None else kernel_w, p.stride_w, dilation("w"),
             p.pad_left, p.pad_right)
    if rank == 1:
        return [w]
    h = Axis("h", p.kernel_h, p.stride_h, dilation("h"), p.pad_top, p.pad_bottom)
    if rank == 2:
        return [h, w]
    return [Axis("d", p.kernel_d, p.stride_d, dilation("d"), p.pad_front, p.pad_behind), h, w]


def check_axes(axes):
    """ValueError unless every kernel, stride and dilation is >= 1 (ncnn would read out of bounds)."""
    for a in axes:
        if min(a.kernel, a.stride, a.dilation) < 1:
            raise ValueError("kernel_%s %d, stride_%s %d, dilation_%s %d must all be >= 1"
                             % (a.name, a.kernel, a.name, a.stride, a.name, a.dilation))


def _pads(axes):
    return [v for a in axes for v in (a.pad_lo, a.pad_hi)]


def same_borders(axes, sizes, lower):
    """(lo, hi) per axis for SAME_UPPER / SAME_LOWER; none unless some axis's total is > 0, then
    negative ones too (see the module docstring). Depth stays SAME_UPPER even for SAME_LOWER:
    convolution3d.cpp, convolutiondepthwise3d.cpp and pooling3d.cpp pass dpad / 2 as the front."""
    totals = [a.extent + c_div(n - 1, a.stride) * a.stride - n for a, n in zip(axes, sizes)]
    if not any(t > 0 for t in totals):
        return [(0, 0)] * len(axes)
    borders = []
    for a, t in zip(axes, totals):
        small, big = c_div(t, 2), t - c_div(t, 2)
        borders.append((big, small) if lower and a.name != "d" else (small, big))
    return borders


def conv_borders(axes, sizes):
    """(lo, hi) per axis as the conv layers' make_padding: the explicit pads when any is > 0, the
    SAME split when all are -233 (or all -234), else no border."""
    pads = _pads(axes)
    if any(v > 0 for v in pads):
        if any(v < 0 for v in pads):
            raise ValueError("pads %s mix positive and negative values (ncnn pads by each as given)" % pads)
        return [(a.pad_lo, a.pad_hi) for a in axes]
    if all(v == SAME_UPPER for v in pads):
        return same_borders(axes, sizes, lower=False)
    if all(v == SAME_LOWER for v in pads):
        return same_borders(axes, sizes, lower=True)
    return [(0, 0)] * len(axes)


def pool_borders(axes, sizes, pad_mode):
    """((lo, hi) per axis, tail pad per axis) as the pooling layers' make_padding: 0 full (caffe ceil
    mode: a tail pad so the last window fits), 1 valid (explicit pads), 2 SAME_UPPER, 3 SAME_LOWER."""
    if pad_mode in (2, 3):
        return same_borders(axes, sizes, lower=pad_mode == 3), [0] * len(axes)
    if any(v < 0 for v in _pads(axes)):
        raise ValueError("pads %s must be >= 0 with pad_mode %d" % (_pads(axes), pad_mode))
    tails = [0] * len(axes)
    if pad_mode == 0:
        for i, (a, n) in enumerate(zip(axes, sizes)):
            tail = c_mod(n + a.pad_lo + a.pad_hi - a.kernel, a.stride)
            tails[i] = a.stride - tail if tail != 0 else 0
    return [(a.pad_lo, a.pad_hi + t) for a, t in zip(axes, tails)], tails


def check_lifted_depth(borders, lifted):
    """A 3-D (c, h, w) bottom runs as d = 1 only without a depth border: ncnn's Padding of a 3-D blob
    pads its *channels* by front/behind (padding.cpp), and the layer then reads shifted channels."""
    if lifted and borders[0] != (0, 0):
        raise ValueError("a 3-D bottom with a depth border %s: ncnn pads its channel axis instead"
                         % (borders[0],))


def out_sizes(axes, sizes, borders):
    """Output size per axis: (bordered - extent) / stride + 1; ValueError when the kernel does not fit."""
    out = []
    for a, n, (lo, hi) in zip(axes, sizes, borders):
        bordered = n + lo + hi
        if bordered < a.extent:
            raise ValueError("kernel extent %d along %s is larger than the padded size %d"
                             % (a.extent, a.name, bordered))
        out.append((bordered - a.extent) // a.stride + 1)
    return out


HI_NAMES = {"h": "bottom", "w": "right"}


def check_in_bounds(axes, sizes, borders):
    """ValueError where ncnn's copy_make_border_image writes outside its bordered blob: a negative
    bottom or right border, or a negative left one on a row of >= 12 values (module docstring)."""
    for a, n, (lo, hi) in zip(axes, sizes, borders):
        if hi < 0 and a.name in HI_NAMES:
            raise ValueError("a negative %s border (%d, kernel extent %d < stride %d along %s): ncnn "
                             "writes past the end of its padded blob there (padding.cpp); give the layer "
                             "explicit pads instead" % (HI_NAMES[a.name], hi, a.extent, a.stride, a.name))
        if a.name == "w" and lo < 0 and n >= MEMCPY_MIN_W:
            raise ValueError("a negative left border (%d) on w = %d >= %d: ncnn's row memcpy "
                             "overwrites the previous row there" % (lo, n, MEMCPY_MIN_W))


def check_packed(borders, packed):
    """ValueError for a negative border on a blob pip ncnn pads channel-packed (module docstring)."""
    if packed and any(v < 0 for b in borders for v in b):
        raise ValueError("negative border %s on a channel-packed blob (channels a multiple of 4, or "
                         "of 8 for int8): pip ncnn's x86 packed Padding overruns its buffer there"
                         % ([v for b in borders for v in b],))


def crops_and_pads(axes, sizes, borders):
    """Per axis (crop_lo, crop_hi, pad_lo, pad_hi) that reproduce ncnn's bordered blob, negative
    borders included (module docstring); ValueError for those check_in_bounds refuses."""
    check_in_bounds(axes, sizes, borders)
    plan = []
    for a, (lo, hi) in zip(axes, borders):
        crop = (0, max(-lo, 0)) if a.name == "h" else (max(-lo, 0), max(-hi, 0))
        plan.append(crop + (max(lo, 0), max(hi, 0)))
    return plan


def has_crops(plan):
    """Whether a crop/pad plan crops anything."""
    return any(c[0] or c[1] for c in plan)


def crop(ctx, x, sizes, plan, first_axis):
    """Slice away the crops of `plan` from tensor x whose spatial axes start at `first_axis`."""
    axes = [i for i, c in enumerate(plan) if c[0] or c[1]]
    if not axes:
        return x
    starts = [plan[i][0] for i in axes]
    ends = [sizes[i] - plan[i][1] for i in axes]
    return ctx.op("Slice", [x, ctx.ints(starts), ctx.ints(ends), ctx.ints([first_axis + i for i in axes])])


def pad(ctx, x, plan, first_axis, value):
    """Pad tensor x (rank first_axis + len(plan)) by the pads of `plan` with constant `value`."""
    if not any(c[2] or c[3] for c in plan):
        return x
    lead = [0] * first_axis
    pads = lead + [c[2] for c in plan] + lead + [c[3] for c in plan]
    return ctx.op("Pad", [x, ctx.ints(pads), ctx.const(value)])
