"""Resize / Upsample -> Interp, Pad -> Padding, Expand / Tile -> Tile (spec 3 param ids)."""
import numpy as np

from ncnnlike.onnx.importer import converter
from ncnnlike.onnx.ops_gather import take_axes

NEAREST, BILINEAR, BICUBIC = 1, 2, 3
_PAD_TYPES = {"constant": 0, "edge": 1, "reflect": 2}


def _interp_mode(ctx, node, in_hw, out_hw):
    """(resize_type, align_corner) for ncnn, or an error when ncnn's coordinates differ from ONNX's."""
    a = ctx.attrs(node)
    mode = a.get("mode", "nearest")
    coord = a.get("coordinate_transformation_mode", "asymmetric" if node.op_type == "Upsample" else "half_pixel")
    if mode == "nearest":
        # ncnn: src = floor(dst * in/out). ONNX agrees for asymmetric + floor, and when upscaling by
        # an integer factor k: half-pixel + round (any k), asymmetric + round_prefer_floor (k <= 2)
        nearest = a.get("nearest_mode", "floor" if node.op_type == "Upsample" else "round_prefer_floor")
        factors = [o // i if o % i == 0 else 0 for i, o in zip(in_hw, out_hw)]
        integer_up = min(factors) >= 1
        if coord == "asymmetric" and nearest == "floor":
            return NEAREST, 0
        if integer_up and coord in ("half_pixel", "pytorch_half_pixel") and nearest.startswith("round"):
            return NEAREST, 0
        if integer_up and coord == "asymmetric" and nearest == "round_prefer_floor" and max(factors) <= 2:
            return NEAREST, 0
    elif mode in ("linear", "cubic"):
        kind = BILINEAR if mode == "linear" else BICUBIC
        if mode == "cubic" and (float(a.get("cubic_coeff_a", -0.75)) != -0.75 or a.get("exclude_outside", 0)):
            ctx.fail("cubic_coeff_a=%g exclude_outside=%d: ncnn's bicubic has a = -0.75 and no exclude_outside"
                     % (float(a.get("cubic_coeff_a", -0.75)), int(a.get("exclude_outside", 0))))
        if coord == "align_corners":
            return kind, 1
        if coord == "half_pixel" or (coord == "pytorch_half_pixel" and min(out_hw) > 1):
            return kind, 0
    ctx.fail("Resize mode '%s' with coordinate_transformation_mode '%s' is not what ncnn Interp computes"
             % (mode, coord))


@converter("Resize", "Upsample")
def resize(ctx, node):
    """Interp of H and W to the inferred output size (N and C unchanged)."""
    x, y = node.input[0], node.output[0]
    in_shape, out_shape = ctx.shape(x), ctx.shape(y)
    if len(in_shape) != 4 or tuple(in_shape[:2]) != tuple(out_shape[:2]):
        ctx.fail("only spatial resizing of NCHW tensors is supported")
    in_hw, out_hw = in_shape[2:], out_shape[2:]
    if ctx.attrs(node).get("antialias", 0):
        ctx.fail("antialias=1 is not supported: ncnn's Interp does not filter when downscaling")
    kind, align = _interp_mode(ctx, node, in_hw, out_hw)
    params = {0: kind, 3: int(out_hw[0]), 4: int(out_hw[1]), 6: align}
    scales = _given_scales(ctx, node)
    if scales is not None and any(float(i) * s != o for i, s, o in zip(in_hw, scales, out_hw)):
        # ONNX samples at (x + 0.5) / scale - 0.5 with the given scale, not in/out: so does ncnn
        # when Interp gets scales (1=height_scale 2=width_scale) instead of sizes
        if any(int(np.float32(i) * np.float32(s)) != o for i, s, o in zip(in_hw, scales, out_hw)):
            ctx.fail("Resize scales %s give sizes %s; ncnn's would be %s" % (
                list(scales), list(out_hw), [int(np.float32(i) * np.float32(s)) for i, s in zip(in_hw, scales)]))
        params = {0: kind, 1: float(scales[0]), 2: float(scales[1]), 6: align}
    ctx.add("Interp", [ctx.blob(x)], [y], params)


def _given_scales(ctx, node):
    """The H, W scales when the node gives scales (not sizes), else None."""
    if node.op_type == "Upsample":
        scales = ctx.attrs(node).get("scales")
        if scales is None and ctx.has_input(node, 1):
            scales = ctx.const_input(node, 1)
    else:
        scales = ctx.const_input(node, 2) if ctx.has_input(node, 2) else None
    if scales is None or np.size(scales) == 0:
        return None
    scales = [float(s) for s in np.ravel(scales)]
    axes = ctx.attrs(node).get("axes")
    if axes is not None:         # opset 18: scales of the listed axes only
        full = [1.0] * 4
        for ax, sc in zip(axes, scales):
            full[ax + 4 if ax < 0 else ax] = sc
        scales = full
    return scales[2:4] if len(scales) == 4 else None


def _crop_or_wrap(ctx, x, y, begin, end, mode):
    """Wrap padding and negative pads as taken positions (ops_gather.take_axes, exact data
    movement): returns the tensor left to pad and the pads left (y itself when nothing is left)."""
    shape = ctx.shape(x)
    cuts = []
    for ax, n in enumerate(shape):
        lo, hi = (begin[ax], end[ax]) if mode == "wrap" else (min(begin[ax], 0), min(end[ax], 0))
        if lo or hi:
            if n + lo + hi <= 0:
                ctx.fail("pads remove all of axis %d" % ax)
            cuts.append((ax, [i % n for i in range(-lo, n + hi)]))
    rest_b = [0] * len(shape) if mode == "wrap" else [max(v, 0) for v in begin]
    rest_e = [0] * len(shape) if mode == "wrap" else [max(v, 0) for v in end]
    done = not any(rest_b + rest_e)
    mid = y if done else ctx.fresh(y + "_cropped", [n + min(p, 0) + min(q, 0) for n, p, q in zip(shape, begin, end)])
    take_axes(ctx, x, mid, cuts)
    return mid, rest_b, rest_e


@converter("Pad")
def pad(ctx, node):
    """Padding: ONNX [begins..., ends...] per axis -> ncnn front/behind, top/bottom, left/right."""
    a = ctx.attrs(node)
    x, y = node.input[0], node.output[0]
    r = ctx.rank(x)
    mode = a.get("mode", "constant")
    if mode not in _PAD_TYPES and mode != "wrap":
        ctx.fail("Pad mode '%s' is not supported (ncnn pads constant, edge, reflect; wrap by copies)" % mode)
    if "pads" in a:
        pads, value = list(a["pads"]), float(a.get("value", 0.0))
        axes = list(range(r))
    else:
        pads = [int(v) for v in ctx.const_input(node, 1).ravel()]
        value = float(ctx.const_input(node, 2, 0.0).ravel()[0]) if ctx.has_input(node, 2) else 0.0
        axes = [int(v) for v in ctx.const_input(node, 3, range(r)).ravel()]
    axes = [ax + r if ax < 0 else ax for ax in axes]
    begin, end = [0] * r, [0] * r
    for i, ax in enumerate(axes):
        begin[ax], end[ax] = pads[i], pads[i + len(axes)]
    b = ctx.batch_axis(x)
    if b is not None and (begin[b] or end[b]):
        ctx.fail("padding the batch axis is not supported")
    if mode == "wrap" or min(begin + end) < 0:
        x, begin, end = _crop_or_wrap(ctx, x, y, begin, end, mode)
        if x == y:
            return
    per_axis = [(begin[i], end[i]) for i in range(r) if i != b]
    names = {1: [(2, 3)], 2: [(0, 1), (2, 3)], 3: [(7, 8), (0, 1), (2, 3)], 4: [None, (7, 8), (0, 1), (2, 3)]}
    params = {4: _PAD_TYPES.get(mode, 0), 5: value}
    for ids, (lo, hi) in zip(names[len(per_axis)], per_axis):
        if ids is None:
            if lo or hi:
                ctx.fail("padding the channel axis of a 4-D blob is not supported")
            continue
        params[ids[0]], params[ids[1]] = lo, hi
    ctx.add("Padding", [ctx.blob(x)], [y], params)


def _tile(ctx, x, y, repeats, shape):
    """Tile blob of tensor x (viewed as ncnn `shape`) by numpy-order `repeats` into y."""
    if all(r == 1 for r in repeats):
        ctx.bind(y, ctx.blob(x, shape), shape)
        return
    ctx.add("Tile", [ctx.blob(x, shape)], [y], {2: [int(r) for r in repeats]})


@converter("Expand")
def expand(ctx, node):
    """Broadcast x to the output shape: Tile by out / in along the axes where x has size 1."""
    x, y = node.input[0], node.output[0]
    shape = tuple(ctx.operand_shape(x, y))
    out = tuple(ctx.ncnn_shape(y))
    if len(shape) != len(out) or any(i != o and i != 1 for i, o in zip(shape, out)):
        ctx.fail("cannot expand ncnn shape %s to %s" % (list(shape), list(out)))
    _tile(ctx, x, y, [o // i for i, o in zip(shape, out)], shape)


@converter("Tile")
def tile(ctx, node):
    """Tile with constant repeats (1 on the batch axis)."""
    x, y = node.input[0], node.output[0]
    repeats = [int(r) for r in ctx.const_input(node, 1).ravel()]
    if len(repeats) != ctx.rank(x) or min(repeats) < 1:
        ctx.fail("repeats %s do not fit rank %d" % (repeats, ctx.rank(x)))
    b = ctx.batch_axis(x)
    if b is not None and repeats[b] != 1:
        ctx.fail("tiling the batch axis is not supported")
    _tile(ctx, x, y, [r for i, r in enumerate(repeats) if i != b], tuple(ctx.ncnn_shape(x)))
