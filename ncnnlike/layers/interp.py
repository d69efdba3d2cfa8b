"""Interp (spec 3, interp.cpp): nearest / bilinear / bicubic resize of a blob's h and w.

The lowering builds ncnn's own index and weight tables (linear_coeffs, cubic_coeffs, the nearest
index rule) in float32 at lowering time and applies them with Gather + Mul + Add, w first then h,
so the result is ncnn's, including its coordinate conventions:
  step      ws = w/outw when the size is given (4=output_width, 9=size_expr or a reference blob),
            else ws = 1/width_scale (pip ncnn 20261020, measured: not w/outw), likewise hs
  nearest   in_x = min(int(x * ws), w - 1)
  bilinear  half-pixel (x + 0.5) * ws - 0.5, clamped to the edge; align_corner: x * (w-1)/(outw-1)
  bicubic   A = -0.75, taps clamped to the edge, same coordinates as bilinear
Output size: 3=output_height / 4=output_width, else int(h * height_scale) / int(w * width_scale);
5=dynamic_target_size takes it from the second bottom's (h, w); 9=size_expr overrides both.
A 2-D blob resizes only its w; a 1-D blob of n values becomes n channels filled with each value.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.reshape import eval_list_expression, ncnn_dims
from ncnnlike.layers import checks

TYPE = "Interp"

NEAREST, BILINEAR, BICUBIC = 1, 2, 3

# ModelWriter order: 0 1 2 3 4 5 6 9
PARAMS = (
    Param(0, "resize_type", 0),
    Param(1, "height_scale", 1.0),
    Param(2, "width_scale", 1.0),
    Param(3, "output_height", 0),
    Param(4, "output_width", 0),
    Param(5, "dynamic_target_size", 0),
    Param(6, "align_corner", 0),
    Param(9, "size_expr", ""),
)


def out_size(p, shapes):
    """(outh, outw) as Interp::forward resolves them."""
    w, h, _, _ = ncnn_dims(shapes[0])
    if len(shapes[0]) == 1:
        w = h = 1
    if p.dynamic_target_size and len(shapes) > 1:
        outw, outh, _, _ = ncnn_dims(shapes[1])
    else:
        outw, outh = p.output_width, p.output_height
        if outw == 0 or outh == 0:
            outw = int(np.float32(w) * np.float32(p.width_scale))
            outh = int(np.float32(h) * np.float32(p.height_scale))
    if p.size_expr:
        sizes = eval_list_expression(p.size_expr, shapes)
        if not 1 <= len(sizes) <= 2:
            raise NcnnlikeError("size expression '%s' gives %d values, expected 1 or 2" % (p.size_expr, len(sizes)))
        outw = sizes[0]
        outh = sizes[1] if len(sizes) == 2 else ncnn_dims(shapes[0])[1]
    return outh, outw


def nearest_table(size, out, scale):
    """Source index of each output position: min(int(x * ws), size - 1) in float32."""
    ws = np.float32(size) / np.float32(out) if scale is None else np.float32(1) / np.float32(scale)
    x = np.arange(out, dtype=np.float32) * ws
    return [np.minimum(x.astype(np.int64), size - 1)], [None]


def source_coords(size, out, align_corner, scale):
    """(floor index, fraction) per output position, as linear_coeffs / cubic_coeffs compute fx."""
    dx = np.arange(out, dtype=np.float64)
    if align_corner:
        fx = (dx * ((size - 1) / (out - 1) if out > 1 else 0.0)).astype(np.float32)
    else:
        step = size / out if scale is None else 1.0 / float(np.float32(scale))
        fx = ((dx + 0.5) * step - 0.5).astype(np.float32)
    sx = np.floor(fx).astype(np.int64)
    return sx, fx - sx.astype(np.float32)


def linear_table(size, out, align_corner, scale):
    """Two taps (sx, sx+1) and weights (1-fx, fx), clamped to the edges as linear_coeffs does."""
    sx, fx = source_coords(size, out, align_corner, scale)
    fx = np.where(sx < 0, np.float32(0), fx)
    sx = np.maximum(sx, 0)
    fx = np.where(sx >= size - 1, np.float32(1), fx)
    sx = np.where(sx >= size - 1, size - 2, sx)
    return [sx, sx + 1], [np.float32(1) - fx, fx]


def cubic_weights(fx):
    """interpolate_cubic with A = -0.75 (float32)."""
    a = np.float32(-0.75)
    fx0, fx1, fx2 = fx + 1, fx, 1 - fx
    c0 = a * fx0 * fx0 * fx0 - 5 * a * fx0 * fx0 + 8 * a * fx0 - 4 * a
    c1 = (a + 2) * fx1 * fx1 * fx1 - (a + 3) * fx1 * fx1 + 1
    c2 = (a + 2) * fx2 * fx2 * fx2 - (a + 3) * fx2 * fx2 + 1
    return [c0, c1, c2, np.float32(1) - c0 - c1 - c2]


def cubic_table(size, out, align_corner, scale):
    """Four taps sx-1..sx+2 with cubic weights; taps outside the blob fold onto the edge pixel."""
    sx, fx = source_coords(size, out, align_corner, scale)
    weights = [w.astype(np.float32) for w in cubic_weights(fx.astype(np.float32))]
    taps = [np.clip(sx + k, 0, size - 1) for k in (-1, 0, 1, 2)]
    return taps, weights


def resize_axis(ctx, x, axis, rank, table, name):
    """sum_k Gather(x, taps_k, axis) * weight_k on an ONNX tensor of `rank` dims."""
    taps, weights = table
    out = None
    for k, (index, weight) in enumerate(zip(taps, weights)):
        g = ctx.op("Gather", [x, ctx.ints(index)], axis=axis)
        if weight is not None:
            shape = (-1,) + (1,) * (rank - 1 - axis)
            g = ctx.op("Mul", [g, ctx.const(weight.reshape(shape), "%s_w%d" % (name, k))])
        out = g if out is None else ctx.op("Add", [out, g])
    return out


def table_for(p, size, out, scale):
    """The tap table for one axis of length `size` resized to `out`; `scale` None when sized."""
    if p.resize_type == NEAREST:
        return nearest_table(size, out, scale)
    if p.resize_type == BILINEAR:
        return linear_table(size, out, p.align_corner, scale)
    return cubic_table(size, out, p.align_corner, scale)


def lower(layer, p, ctx):
    where = "layer %s (Interp)" % layer.name
    if p.resize_type not in (NEAREST, BILINEAR, BICUBIC):
        raise NcnnlikeError("%s: resize_type %d is not supported (1 nearest, 2 bilinear, 3 bicubic)" % (where, p.resize_type))
    shapes = [ctx.shape(b) for b in layer.bottoms]
    shape = shapes[0]
    outh, outw = out_size(p, shapes)
    if outh <= 0 or outw <= 0:
        raise NcnnlikeError("%s: output size %dx%d is not positive" % (where, outh, outw))
    x = ctx.bottom(layer)
    if len(shape) == 1:
        y = ctx.op("Expand", [ctx.op("Unsqueeze", [x, ctx.ints([2, 3])]), ctx.ints([1, 1, outh, outw])])
        ctx.top(layer, 0, y, (shape[0], outh, outw))
        return
    if len(shape) not in (2, 3):
        raise NcnnlikeError("%s: expects a 1-D, 2-D or 3-D bottom, got shape %s" % (where, shape))
    h, w = shape[-2], shape[-1]
    out = (h, outw) if len(shape) == 2 else (shape[0], outh, outw)
    if out == tuple(shape):
        ctx.top(layer, 0, x, shape)
        return
    sized = bool(p.size_expr or (p.dynamic_target_size and len(shapes) > 1))
    w_scale = None if sized or p.output_width else p.width_scale
    h_scale = None if sized or p.output_height else p.height_scale
    rank = len(shape) + 1
    y = resize_axis(ctx, x, rank - 1, rank, table_for(p, w, outw, w_scale), layer.name + "_x")
    if len(shape) == 3:
        y = resize_axis(ctx, y, 2, rank, table_for(p, h, outh, h_scale), layer.name + "_y")
    ctx.top(layer, 0, y, out)


BLOBS = ((1, 2), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.one_of(p, "resize_type", (1, 2, 3), "1 nearest, 2 bilinear, 3 bicubic")
    checks.finite(p, 'height_scale', 'width_scale')
    checks.between(p, 0, 1 << 16, "output_height", "output_width")
    checks.flag(p, "dynamic_target_size", "align_corner")
