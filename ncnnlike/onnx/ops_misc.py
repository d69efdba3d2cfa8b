"""Resize / Upsample -> Interp, Pad -> Padding, Expand (identity only) (spec 3 param ids)."""
import numpy as np

from ncnnlike.onnx.importer import converter

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
            ctx.fail("cubic Resize differs from ncnn's bicubic (a = -0.75, no exclude_outside)")
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
    kind, align = _interp_mode(ctx, node, in_hw, out_hw)
    params = {0: kind, 3: int(out_hw[0]), 4: int(out_hw[1]), 6: align}
    scales = _given_scales(ctx, node)
    if scales is not None and any(float(i) * s != o for i, s, o in zip(in_hw, scales, out_hw)):
        ctx.fail("Resize scales %s give fractional sizes; ncnn interpolates by sizes" % list(scales))
    ctx.add("Interp", [ctx.blob(x)], [y], params)


def _given_scales(ctx, node):
    """The H, W scales when the node gives scales (not sizes), else None."""
    if node.op_type == "Upsample":
        scales = ctx.attrs(node).get("scales")
        if scales is None and ctx.has_input(node, 1):
            scales = ctx.const_input(node, 1)
    else:
        scales = ctx.const_input(node, 2) if ctx.has_input(node, 2) else None
    if scales is None or np.size(scales) < 4:
        return None
    return [float(s) for s in np.ravel(scales)[2:4]]


@converter("Pad")
def pad(ctx, node):
    """Padding: ONNX [begins..., ends...] per axis -> ncnn front/behind, top/bottom, left/right."""
    a = ctx.attrs(node)
    x, y = node.input[0], node.output[0]
    r = ctx.rank(x)
    mode = a.get("mode", "constant")
    if mode not in _PAD_TYPES:
        ctx.fail("Pad mode '%s' is not supported" % mode)
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
    if min(begin + end) < 0:
        ctx.fail("negative pads (cropping) are not supported")
    b = ctx.batch_axis(x)
    if b is not None and (begin[b] or end[b]):
        ctx.fail("padding the batch axis is not supported")
    per_axis = [(begin[i], end[i]) for i in range(r) if i != b]
    names = {1: [(2, 3)], 2: [(0, 1), (2, 3)], 3: [(7, 8), (0, 1), (2, 3)], 4: [None, (7, 8), (0, 1), (2, 3)]}
    params = {4: _PAD_TYPES[mode], 5: value}
    for ids, (lo, hi) in zip(names[len(per_axis)], per_axis):
        if ids is None:
            if lo or hi:
                ctx.fail("padding the channel axis of a 4-D blob is not supported")
            continue
        params[ids[0]], params[ids[1]] = lo, hi
    ctx.add("Padding", [ctx.blob(x)], [y], params)


@converter("Expand")
def expand(ctx, node):
    """Expand that leaves the shape unchanged is the identity; real broadcasting is not supported."""
    if tuple(ctx.shape(node.input[0])) != tuple(ctx.shape(node.output[0])):
        ctx.fail("Expand that broadcasts is not supported")
    ctx.alias(node.output[0], node.input[0])
