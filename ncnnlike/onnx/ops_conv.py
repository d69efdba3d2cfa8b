"""Conv -> Convolution / ConvolutionDepthWise, ConvTranspose -> Deconvolution / DeconvolutionDepthWise
(spec 3 param ids, spec 2.4 weight layouts). 1-D convolutions run as 2-D ones of height 1."""
import numpy as np

from ncnnlike.onnx.importer import converter

SAME_UPPER, SAME_LOWER = -233, -234


def _spatial(ctx, node, w):
    """(kernel, strides, dilations) as (h, w) pairs; a 1-D op gets height 1."""
    a = ctx.attrs(node)
    nd = w.ndim - 2
    if nd not in (1, 2):
        ctx.fail("only 1-D and 2-D convolutions are supported, not %d-D" % nd)
    kernel = list(w.shape[2:])
    strides = list(a.get("strides", [1] * nd))
    dilations = list(a.get("dilations", [1] * nd))
    if nd == 1:
        kernel, strides, dilations = [1] + kernel, [1] + strides, [1] + dilations
    return kernel, strides, dilations


def _pads(ctx, node, nd):
    """ONNX pads (or auto_pad) as ncnn ids 4/14/15/16 (left, top, right, bottom), or SAME codes."""
    a = ctx.attrs(node)
    auto = a.get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        return {4: SAME_UPPER, 14: SAME_UPPER, 15: SAME_UPPER, 16: SAME_UPPER}
    if auto == "SAME_LOWER":
        return {4: SAME_LOWER, 14: SAME_LOWER, 15: SAME_LOWER, 16: SAME_LOWER}
    pads = list(a.get("pads", [0] * (2 * nd)))
    if nd == 1:
        pads = [0, pads[0], 0, pads[1]]
    top, left, bottom, right = pads
    return {4: left, 14: top, 15: right, 16: bottom}


@converter("Conv")
def conv(ctx, node):
    """Convolution; group > 1 -> ConvolutionDepthWise with 7=group. Weights stay [outc][inc/g][kh][kw]."""
    w = ctx.const_input(node, 1).astype(np.float32)
    kernel, strides, dilations = _spatial(ctx, node, w)
    nd = w.ndim - 2
    group = int(ctx.attrs(node).get("group", 1))
    params = _geometry(w.shape[0], kernel, strides, dilations, w.size)
    params.update(_pads(ctx, node, nd))
    _emit_conv_like(ctx, node, "Convolution", params, w, group, nd)


def _geometry(out_c, kernel, strides, dilations, weight_size):
    """The params every conv-like layer shares: num_output, kernel, dilation, stride, sizes."""
    return {0: out_c, 1: kernel[1], 11: kernel[0], 2: dilations[1], 12: dilations[0],
            3: strides[1], 13: strides[0], 5: 0, 6: int(weight_size)}


def _emit_conv_like(ctx, node, type_name, params, weight, group, nd):
    """Add the optional bias (input 2) and, for group > 1, the DepthWise variant with 7=group."""
    weights = [weight]
    if ctx.has_input(node, 2):
        params[5] = 1
        weights.append(ctx.const_input(node, 2))
    if group > 1:
        type_name += "DepthWise"
        params[7] = group
    _emit(ctx, node, type_name, params, weights, nd)


def _emit(ctx, node, type_name, params, weights, nd):
    """Add the layer; a 1-D op reads (C, 1, W) and its (C', 1, W') output stays that actual shape."""
    x, y = node.input[0], node.output[0]
    if nd == 2:
        ctx.add(type_name, [ctx.blob(x)], [y], params, weights)
        return
    c, width = ctx.ncnn_shape(x)
    out_c, out_w = ctx.ncnn_shape(y)
    ctx.add(type_name, [ctx.blob(x, (c, 1, width))], [y], params, weights, shapes=[(out_c, 1, out_w)])


def _deconv_pads(ctx, node, kernel, strides, dilations, in_hw, out_hw, nd):
    """Explicit pads (top, left, bottom, right) and output padding reproducing ONNX's output size."""
    a = ctx.attrs(node)
    auto = a.get("auto_pad", "NOTSET")
    out_pad = list(a.get("output_padding", []))
    pads = list(a.get("pads", []))
    if nd == 1:
        out_pad = [0] + (out_pad or [0])
        pads = [0, pads[0], 0, pads[1]] if pads else []
    out_pad = out_pad or [0, 0]
    begin, end = [], []
    for i in range(2):
        full = strides[i] * (in_hw[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1
        total = full - out_hw[i]
        if auto in ("SAME_UPPER", "SAME_LOWER") or "output_shape" in a:
            b = total // 2 if auto == "SAME_UPPER" else total - total // 2
        else:
            b = pads[i] if pads else 0
        begin.append(b)
        end.append(full - out_hw[i] - b)
    return begin, end, out_pad


@converter("ConvTranspose")
def conv_transpose(ctx, node):
    """Deconvolution(DepthWise): ONNX weight [inc][outc/g][kh][kw] -> ncnn [g][outc/g][inc/g][kh][kw]."""
    w = ctx.const_input(node, 1).astype(np.float32)
    kernel, strides, dilations = _spatial(ctx, node, w)
    nd = w.ndim - 2
    group = int(ctx.attrs(node).get("group", 1))
    in_c, out_per_group = w.shape[0], w.shape[1]
    out_c = out_per_group * group
    in_shape, out_shape = ctx.ncnn_shape(node.input[0]), ctx.ncnn_shape(node.output[0])
    in_hw = ([1] + list(in_shape[1:])) if nd == 1 else list(in_shape[1:])
    out_hw = ([1] + list(out_shape[1:])) if nd == 1 else list(out_shape[1:])
    begin, end, out_pad = _deconv_pads(ctx, node, kernel, strides, dilations, in_hw, out_hw, nd)
    extra = [0, 0]
    for i in range(2):   # a negative end pad becomes more output padding on the bottom/right
        if end[i] < 0:
            extra[i], end[i] = -end[i], 0
    if min(begin) < 0:
        ctx.fail("negative begin padding is not supported")
    wt = w.reshape(group, in_c // group, out_per_group, *w.shape[2:]).swapaxes(1, 2)
    params = _geometry(out_c, kernel, strides, dilations, w.size)
    params.update({4: begin[1], 14: begin[0], 15: end[1], 16: end[0],
                   18: out_pad[1] + extra[1], 19: out_pad[0] + extra[0]})
    _emit_conv_like(ctx, node, "Deconvolution", params, wt, group, nd)
