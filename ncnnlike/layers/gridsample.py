"""GridSample (src/layer/gridsample.cpp, x86/gridsample_*.h): sample a blob at grid locations.

Bottoms: the image (c, h, w) or (c, d, h, w), and the grid of normalized locations in [-1, 1]:
  3-D image: grid (outh, outw, 2) holding (x, y) pairs, or with 3=permute_fusion (2, outh, outw);
  4-D image: grid (outd, outh, outw, 3) holding (x, y, z), or with permute_fusion (3, outd, outh, outw).
Top (c, outh, outw) or (c, outd, outh, outw).

The lowering builds ncnn's coordinates from the grid tensor with ONNX arithmetic, then gathers the
taps (GatherND) and weights them in ncnn's order, so edge cases follow ncnn, not onnxruntime:
  unnormalize  align_corner: (g + 1) / 2 * (size - 1); else ((g + 1) * size - 1) / 2, with the
               product and the -1 in one rounding where pip ncnn's x86 AVX loop (fmsub) computes
               it, two in its scalar tail loop (x86_tail_points)
  padding      1 zeros: taps outside read 0; 2 border: clamp to [0, size-1];
               3 reflection, align_corner: |s| reflected once at size-1, then clamped to >= 0 only
               at the points pip ncnn's x86 code handles in its scalar tail loop (x86_tail_points;
               its AVX loop and gridsample.cpp do not clamp): this matters only for |g| > 3;
               reflection, else: reflected at -0.5 and size-0.5 once, then clamped to [0, size-1]
  1 bilinear   taps floor(s), floor(s)+1, lerp along x, then y, then z
  2 nearest    tap floor(s + 0.5)
  3 bicubic    (2-D only) taps floor(u)-1 .. floor(u)+2 of the unpadded u, each tap padded on its
               own; cubic weights with A = -0.75 (as Interp); summed along x, then y
sample_type 1 is bilinear and 2 nearest (gridsample.h; operators.md has them swapped). ncnn refuses
sample_type / padding_mode outside 1..3 at load and bicubic on a 4-D blob at run time; those raise
here. pip ncnn fuses some multiply-adds: bilinear and bicubic agree to float rounding, nearest exactly.
onnxruntime's GridSample is not used: it rounds nearest ties to even and reflects repeatedly.
"""
import numpy as np
import onnx

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "GridSample"

BILINEAR, NEAREST, BICUBIC = 1, 2, 3   # gridsample.h; operators.md swaps 1 and 2
ZEROS, BORDER, REFLECTION = 1, 2, 3

# ModelWriter order: 0 1 2 3
PARAMS = (
    Param(0, "sample_type", 1),
    Param(1, "padding_mode", 1),
    Param(2, "align_corner", 0),
    Param(3, "permute_fusion", 0),
)


def out_spatial(image, grid, permute_fusion):
    """Output spatial shape ((outh, outw) or (outd, outh, outw)) from a grid of the right form, else None."""
    k = len(image) - 1
    if len(grid) != len(image):
        return None
    if permute_fusion:
        return tuple(grid[1:]) if grid[0] == k else None
    return tuple(grid[:-1]) if grid[-1] == k else None


def grid_components(ctx, grid, k, points, permute_fusion):
    """The grid as k tensors (N, points): x, y[, z] of every output location in output order."""
    if permute_fusion:
        g, axis = ctx.op("Reshape", [grid, ctx.ints([0, k, points])]), 1
    else:
        g, axis = ctx.op("Reshape", [grid, ctx.ints([0, points, k])]), 2
    return [ctx.op("Gather", [g, ctx.ints(i)], axis=axis) for i in range(k)]


def f32(ctx, value):
    """A float32 scalar constant."""
    return ctx.const(np.float32(value))


def unnormalize(ctx, g, size, align_corner, tail):
    """Grid value -> pixel coordinate. Not aligned, ((g + 1) * size - 1) / 2: pip ncnn's AVX loop
    rounds the product and the -1 once (fmsub, emulated in double), its scalar tail twice."""
    g1 = ctx.op("Add", [g, f32(ctx, 1)])
    if align_corner:
        return ctx.op("Mul", [g1, f32(ctx, (size - 1) / 2)])
    d = ctx.op("Cast", [g1], to=onnx.TensorProto.DOUBLE)
    d = ctx.op("Sub", [ctx.op("Mul", [d, ctx.const(size, dtype=np.float64)]), ctx.const(1, dtype=np.float64)])
    fused = ctx.op("Cast", [d], to=onnx.TensorProto.FLOAT)
    if tail.any():
        plain = ctx.op("Sub", [ctx.op("Mul", [g1, f32(ctx, size)]), f32(ctx, 1)])
        fused = ctx.op("Where", [ctx.const(tail, "tail"), plain, fused])
    return ctx.op("Mul", [fused, f32(ctx, 0.5)])


def x86_tail_points(out, permute_fusion):
    """(1, P) bool: the output points pip ncnn's x86 compute_blob loops leave to their scalar tail.
    The AVX loop takes 8 points at a time, per outermost grid channel without permute_fusion
    (each holds prod(out[1:]) points), over all P points with it."""
    points = int(np.prod(out))
    row = points if permute_fusion else int(np.prod(out[1:]))
    return (np.arange(points) % row >= row // 8 * 8).reshape(1, points)


def pad_coord(ctx, s, size, p, tail):
    """ncnn's compute_coord: border clamp or one reflection (see the module docstring)."""
    if p.padding_mode == BORDER:
        return ctx.op("Clip", [s, f32(ctx, 0), f32(ctx, size - 1)])
    if p.padding_mode != REFLECTION:
        return s
    if p.align_corner:
        edge = f32(ctx, size - 1)
        s = ctx.op("Abs", [s])
        s = ctx.op("Sub", [edge, ctx.op("Abs", [ctx.op("Sub", [s, edge])])])
        low = ctx.const(np.where(tail, np.float32(0), np.float32(-np.inf)), "tail_low")
        return ctx.op("Max", [s, low])
    s = ctx.op("Abs", [ctx.op("Add", [s, f32(ctx, 0.5)])])
    s = ctx.op("Sub", [f32(ctx, size), ctx.op("Abs", [ctx.op("Sub", [s, f32(ctx, size)])])])
    s = ctx.op("Sub", [s, f32(ctx, 0.5)])
    return ctx.op("Clip", [s, f32(ctx, 0), f32(ctx, size - 1)])


def cubic_weights(ctx, t):
    """interpolate_cubic(t), A = -0.75, in the Horner form of ncnn's SIMD cubic_interp1d: four weights."""
    a = -0.75
    def poly(x, c3, c2, c1, c0):
        y = ctx.op("Add", [ctx.op("Mul", [x, f32(ctx, c3)]), f32(ctx, c2)])
        y = ctx.op("Mul", [y, x])
        if c1:
            y = ctx.op("Add", [y, f32(ctx, c1)])
        return ctx.op("Add", [ctx.op("Mul", [y, x]), f32(ctx, c0)])
    w0 = poly(ctx.op("Add", [t, f32(ctx, 1)]), a, -5 * a, 8 * a, -4 * a)
    w1 = poly(t, a + 2, -(a + 3), 0, 1)
    w2 = poly(ctx.op("Sub", [f32(ctx, 1), t]), a + 2, -(a + 3), 0, 1)
    w3 = ctx.op("Sub", [ctx.op("Sub", [ctx.op("Sub", [f32(ctx, 1), w0]), w1]), w2])
    return [w0, w1, w2, w3]


def axis_taps(ctx, g, size, p, tail):
    """One axis: ([(coordinate, in-bounds mask)] per tap, [weight or None per tap])."""
    s = unnormalize(ctx, g, size, p.align_corner, tail)
    if p.sample_type == BICUBIC:
        base = ctx.op("Floor", [s])
        coords = [pad_coord(ctx, ctx.op("Add", [base, f32(ctx, k)]), size, p, tail)
                  for k in (-1, 0, 1, 2)]
        weights = cubic_weights(ctx, ctx.op("Sub", [s, base]))
    else:
        s = pad_coord(ctx, s, size, p, tail)
        if p.sample_type == NEAREST:
            coords, weights = [ctx.op("Floor", [ctx.op("Add", [s, f32(ctx, 0.5)])])], [None]
        else:
            base = ctx.op("Floor", [s])
            frac = ctx.op("Sub", [s, base])
            coords = [base, ctx.op("Add", [base, f32(ctx, 1)])]
            weights = [ctx.op("Sub", [f32(ctx, 1), frac]), frac]
    taps = []
    for c in coords:
        inside = ctx.op("And", [ctx.op("Greater", [c, f32(ctx, -1)]), ctx.op("Less", [c, f32(ctx, size)])])
        index = ctx.op("Cast", [ctx.op("Where", [inside, c, f32(ctx, 0)])], to=onnx.TensorProto.INT64)
        taps.append((index, inside))
    return taps, weights


def gather_tap(ctx, image, taps, sizes):
    """Image values (N, P, C) at one tap per axis (outermost first: z, y, x; `sizes` likewise);
    0 where any axis is out of bounds."""
    flat, inside = taps[0]
    for (index, mask), size in zip(taps[1:], sizes[1:]):
        flat = ctx.op("Add", [ctx.op("Mul", [flat, ctx.ints(size)]), index])
        inside = ctx.op("And", [inside, mask])
    values = ctx.op("GatherND", [image, ctx.op("Unsqueeze", [flat, ctx.ints([2])])], batch_dims=1)
    return ctx.op("Where", [ctx.op("Unsqueeze", [inside, ctx.ints([2])]), values, f32(ctx, 0)])


def interpolate(ctx, image, axes, sizes, fixed=()):
    """sum_k w_k * value_k over the taps of each axis, `axes` outermost (z) first, so that x is
    combined first as ncnn does; `sizes` in the same order."""
    depth = len(fixed)
    if depth == len(axes):
        return gather_tap(ctx, image, list(fixed), sizes)
    taps, weights = axes[depth]
    total = None
    for tap, weight in zip(taps, weights):
        v = interpolate(ctx, image, axes, sizes, fixed + (tap,))
        if weight is not None:
            v = ctx.op("Mul", [v, ctx.op("Unsqueeze", [weight, ctx.ints([2])])])
        total = v if total is None else ctx.op("Add", [total, v])
    return total


def check(layer, p, ctx, where):
    """Params and bottom shapes ncnn accepts: returns (image shape, output spatial shape)."""
    if p.sample_type not in (BILINEAR, NEAREST, BICUBIC) or p.padding_mode not in (ZEROS, BORDER, REFLECTION):
        raise NcnnlikeError("%s: sample_type (0=) and padding_mode (1=) must be 1..3, got %d and %d"
                            % (where, p.sample_type, p.padding_mode))
    if len(layer.bottoms) != 2:
        raise NcnnlikeError("%s: needs 2 bottoms (image, grid), has %d" % (where, len(layer.bottoms)))
    image, grid = ctx.in_shape(layer, 0), ctx.in_shape(layer, 1)
    if len(image) not in (3, 4):
        raise NcnnlikeError("%s: the image must be 3-D or 4-D, got shape %s" % (where, image))
    if len(image) == 4 and p.sample_type == BICUBIC:
        raise NcnnlikeError("%s: bicubic (0=3) is not supported on a 4-D image (ncnn refuses it)" % where)
    out = out_spatial(image, grid, p.permute_fusion)
    if out is None:
        k = len(image) - 1
        form = "(%d, ...)" % k if p.permute_fusion else "(..., %d)" % k
        raise NcnnlikeError("%s: grid shape %s does not fit a %d-D image: expected %d-D %s%s"
                            % (where, grid, len(image), len(image), form,
                               " with permute_fusion" if p.permute_fusion else ""))
    return image, out


def lower(layer, p, ctx):
    where = "layer %s (GridSample)" % layer.name
    image, out = check(layer, p, ctx, where)
    channels, sizes = image[0], list(image[1:])[::-1]       # sizes: w, h[, d]
    points = int(np.prod(out))
    comps = grid_components(ctx, ctx.bottom(layer, 1), len(sizes), points, p.permute_fusion)
    tail = x86_tail_points(out, p.permute_fusion)
    axes = [axis_taps(ctx, g, size, p, tail) for g, size in zip(comps, sizes)]
    x = ctx.op("Reshape", [ctx.bottom(layer, 0), ctx.ints([0, channels, -1])])
    x = ctx.op("Transpose", [x], perm=[0, 2, 1])              # (N, d*h*w, c) for GatherND
    y = interpolate(ctx, x, axes[::-1], sizes[::-1])
    y = ctx.op("Transpose", [y], perm=[0, 2, 1])
    shape = (channels,) + tuple(out)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(shape))]), shape)


BLOBS = (2, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 3, "sample_type", "padding_mode")
    checks.flag(p, "align_corner", "permute_fusion")
