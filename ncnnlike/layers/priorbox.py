"""PriorBox (priorbox.cpp): SSD anchor boxes, computed from shapes and params alone, so the lowering
emits them as a constant (broadcast over the batch).

Caffe-SSD style (two bottoms, or image_width/image_height given): a 2-D top (2, 4 * w * h * num_prior)
whose row 0 holds, for each feature position (row-major) and each min_size k: the min_size box,
the sqrt(min_size * max_sizes[k]) box if max_sizes is set, then per aspect ratio ar the box
(min_size * sqrt(ar), min_size / sqrt(ar)) and, with flip, its transpose; as x1 y1 x2 y2 divided by
the image size, clipped to [0, 1] with clip. Row 1 repeats the four variances.
  image size  params 9/10, -233 taking bottom 1's w / h
  step        params 11/12, -233 giving image / feature size (ceil of it with 14=step_mmdetection)
  centre      (offset + j) * step: x accumulates `+= step` in float32 as ncnn does; with
              15=center_mmdetection the offset applies to (step - 1)
MXNet style (_contrib_MultiBoxPrior: one bottom, image size -233 and no max_sizes): a 1-D top of
4 * w * h * (len(min_sizes) - 1 + len(aspect_ratios)) normalized boxes, sizes first, then ratios[1:]
with min_sizes[0]; step defaults to 1 / feature size.

An int array (`-23300=1,60`) reads as its values, as pip ncnn does (nms.float_array).
The arithmetic is pip ncnn's float32 sequence as measured bit for bit: its -ffast-math build divides
by the image size as a multiplication by the reciprocal, computes the centre y as (offset + i) * step,
and accumulates the centre x; it runs the aspect-ratio loop two ratios at a time, where GCC computes
sqrt and division with rsqrtps / rcpps plus a Newton step: those boxes can differ by 1-2 ulp (the
CPU's approximation tables are not reproducible), and the lowering uses 1 / sqrt(ar) there, which
is bit-exact for the ratios of ncnn's SSD models (2, 3).
Params pip ncnn refuses (empty min_sizes, fewer max_sizes than min_sizes, an MXNet-style layer
without aspect ratios) are errors; an image size of 0 (params 9/10 left at their default 0) gives
ncnn's infinities.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.nms import float_array
from ncnnlike.layers.reshape import ncnn_dims
from ncnnlike.layers import checks

TYPE = "PriorBox"

# ModelWriter order: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 (the writer drops 14 and 15: schema order)
PARAMS = (
    Param(0, "min_sizes", []),
    Param(1, "max_sizes", []),
    Param(2, "aspect_ratios", []),
    Param(3, "variance0", 0.1),
    Param(4, "variance1", 0.1),
    Param(5, "variance2", 0.2),
    Param(6, "variance3", 0.2),
    Param(7, "flip", 1),
    Param(8, "clip", 0),
    Param(9, "image_width", 0),
    Param(10, "image_height", 0),
    Param(11, "step_width", -233.0),
    Param(12, "step_height", -233.0),
    Param(13, "offset", 0.0),
    Param(14, "step_mmdetection", 0),
    Param(15, "center_mmdetection", 0),
)

F32 = np.float32


def fail(layer, what):
    raise NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, what))


def is_mxnet_style(layer, p):
    return len(layer.bottoms) == 1 and p.image_width == -233 and p.image_height == -233 and not p.max_sizes


def accumulated(start, step, n):
    """start, start + step, ... as ncnn's `x += step` loop computes them in float32."""
    values = np.full(n, F32(step), np.float32)
    values[0] = F32(start)
    return np.cumsum(values, dtype=np.float32)


def centers(p, w, h, step_w, step_h):
    """(cx per column, cy per row) of the Caffe-SSD branch."""
    offset, rows = F32(p.offset), np.arange(h, dtype=np.float32)
    if p.center_mmdetection:
        cx = accumulated(offset * (step_w - F32(1)), step_w, w)
        return cx, offset * (step_h - F32(1)) + rows * step_h
    return accumulated(offset * step_w, step_w, w), (offset + rows) * step_h


def box_sizes(p, min_sizes, max_sizes, aspect_ratios):
    """(box_w, box_h) of each prior at one position, in ncnn's order. pip ncnn's build runs the
    aspect-ratio loop two ratios at a time, where min_size / sqrt(ar) becomes min_size * (1 / sqrt(ar)),
    and an odd last ratio alone, divided (measured bit for bit)."""
    sizes = []
    paired = len(aspect_ratios) - len(aspect_ratios) % 2
    for k, min_size in enumerate(min_sizes):
        sizes.append((min_size, min_size))
        if len(max_sizes):
            side = np.sqrt(min_size * max_sizes[k], dtype=np.float32)
            sizes.append((side, side))
        for i, ar in enumerate(aspect_ratios):
            root = np.sqrt(ar, dtype=np.float32)
            box_w = min_size * root
            box_h = min_size * (F32(1) / root) if i < paired else min_size / root
            sizes.append((box_w, box_h))
            if p.flip:
                sizes.append((box_h, box_w))
    return np.asarray(sizes, np.float32).reshape(-1, 2)


def image_size(layer, p, ctx):
    """(image_w, image_h): params 9/10, -233 meaning bottom 1's w / h."""
    image_w, image_h = p.image_width, p.image_height
    if -233 in (image_w, image_h):
        if len(layer.bottoms) < 2:
            fail(layer, "image_width/image_height -233 take the image size from a second bottom, which is missing")
        bw, bh, _, _ = ncnn_dims(ctx.in_shape(layer, 1))
        image_w = bw if image_w == -233 else image_w
        image_h = bh if image_h == -233 else image_h
    return image_w, image_h


def ssd_priors(layer, p, ctx, w, h):
    """The (2, 4 * w * h * num_prior) top of the Caffe-SSD branch."""
    min_sizes, max_sizes = float_array(p.min_sizes), float_array(p.max_sizes)
    if not len(min_sizes):
        fail(layer, "min_sizes (param 0) is empty: no prior to make")
    if 0 < len(max_sizes) < len(min_sizes):
        fail(layer, "max_sizes (param 1) has %d values, min_sizes %d" % (len(max_sizes), len(min_sizes)))
    image_w, image_h = image_size(layer, p, ctx)
    step_w, step_h = F32(p.step_width), F32(p.step_height)
    if step_w == -233:
        step_w = F32(image_w) / F32(w)
        step_w = np.ceil(step_w) if p.step_mmdetection else step_w
    if step_h == -233:
        step_h = F32(image_h) / F32(h)
        step_h = np.ceil(step_h) if p.step_mmdetection else step_h
    cx, cy = centers(p, w, h, step_w, step_h)
    half = box_sizes(p, min_sizes, max_sizes, float_array(p.aspect_ratios)) * F32(0.5)
    cy, cx = cy[:, None, None], cx[None, :, None]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        inv_w, inv_h = F32(1) / F32(image_w), F32(1) / F32(image_h)
        boxes = np.stack(np.broadcast_arrays((cx - half[:, 0]) * inv_w, (cy - half[:, 1]) * inv_h,
                                             (cx + half[:, 0]) * inv_w, (cy + half[:, 1]) * inv_h), axis=-1)
    boxes = boxes.reshape(-1)
    if p.clip:
        boxes = np.clip(boxes, F32(0), F32(1))
    variances = np.array([p.variance0, p.variance1, p.variance2, p.variance3], np.float32)
    return np.stack([boxes, np.tile(variances, boxes.size // 4)])


def mxnet_priors(layer, p, w, h):
    """The 1-D top of the MXNet _contrib_MultiBoxPrior branch."""
    sizes, ratios = float_array(p.min_sizes), float_array(p.aspect_ratios)
    if not len(sizes) or not len(ratios):
        fail(layer, "MXNet-style PriorBox needs min_sizes (param 0) and aspect_ratios (param 2)")
    step_w = F32(1) / F32(w) if p.step_width == -233 else F32(p.step_width)
    step_h = F32(1) / F32(h) if p.step_height == -233 else F32(p.step_height)
    offset = F32(p.offset)
    cx = accumulated(offset * step_w, step_w, w)
    cy = (offset + np.arange(h, dtype=np.float32)) * step_h
    half = []
    for size in sizes:
        half.append((size * F32(h) / F32(w) / F32(2), size / F32(2)))
    for ratio in ratios[1:]:
        root = np.sqrt(ratio, dtype=np.float32)
        half.append((sizes[0] * F32(h) / F32(w) * root / F32(2), sizes[0] / root / F32(2)))
    half = np.asarray(half, np.float32)
    cy, cx = cy[:, None, None], cx[None, :, None]
    boxes = np.stack(np.broadcast_arrays(cx - half[:, 0], cy - half[:, 1], cx + half[:, 0], cy + half[:, 1]),
                     axis=-1).reshape(-1)
    return np.clip(boxes, F32(0), F32(1)) if p.clip else boxes


def lower(layer, p, ctx):
    w, h, _, _ = ncnn_dims(ctx.in_shape(layer, 0))
    if is_mxnet_style(layer, p):
        priors = mxnet_priors(layer, p, w, h)
    else:
        priors = ssd_priors(layer, p, ctx, w, h)
    x, _ = ctx.bottom_q(layer, 0)
    batch = ctx.op("Shape", [x], start=0, end=1)
    shape = ctx.op("Concat", [batch, ctx.ints([1] * priors.ndim)], axis=0)
    const = ctx.const(priors[None].astype(np.float32), layer.name + "_priors")
    ctx.top(layer, 0, ctx.op("Expand", [const, shape]), priors.shape)


BLOBS = ((1, 2), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'min_sizes', 'max_sizes', 'aspect_ratios', 'variance0', 'variance1', 'variance2', 'variance3', 'step_width', 'step_height', 'offset')
    checks.flag(p, "flip", "clip", "step_mmdetection", "center_mmdetection")
