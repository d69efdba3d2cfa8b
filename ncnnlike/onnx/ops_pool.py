"""MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool -> Pooling (spec 3).

ncnn pad_mode: 0 "full" (ceil: extra bottom/right pad so the last window fits), 1 valid (the given
pads only, floor), 2 SAME_UPPER, 3 SAME_LOWER. Global pooling outputs a 1-D blob of C values: the
actual shape is recorded, and consumers that need [C, 1, 1] get a Reshape from ctx.blob().
"""
from ncnnlike.onnx.importer import converter

POOL_MAX, POOL_AVG = 0, 1
PAD_FULL, PAD_VALID, PAD_SAME_UPPER, PAD_SAME_LOWER = 0, 1, 2, 3


def _window(ctx, node, nd):
    """(kernel, strides, pads [top, left, bottom, right]) as 2-D values; 1-D gets height 1."""
    a = ctx.attrs(node)
    if any(d != 1 for d in a.get("dilations", [])):
        ctx.fail("dilated pooling is not supported by ncnn Pooling")
    kernel = list(a["kernel_shape"])
    strides = list(a.get("strides", [1] * nd))
    pads = list(a.get("pads", [0] * (2 * nd)))
    if nd == 1:
        return [1] + kernel, [1] + strides, [0, pads[0], 0, pads[1]]
    return kernel, strides, pads


def _pad_mode(ctx, node, pooling_type, in_hw, out_hw, kernel, strides, pads):
    """The ncnn pad_mode whose output size equals ONNX's (floor -> valid, ceil -> full)."""
    auto = ctx.attrs(node).get("auto_pad", "NOTSET")
    if auto == "SAME_UPPER":
        return PAD_SAME_UPPER
    if auto == "SAME_LOWER":
        return PAD_SAME_LOWER
    floor_out, full_out, tail = [], [], []
    for i in range(2):
        span = in_hw[i] + pads[i] + pads[i + 2] - kernel[i]
        floor_out.append(span // strides[i] + 1)
        full_out.append(-(-span // strides[i]) + 1)
        tail.append(span % strides[i])
    if list(out_hw) == floor_out:
        return PAD_VALID
    count_pad = int(ctx.attrs(node).get("count_include_pad", 0))
    if list(out_hw) == full_out and not (pooling_type == POOL_AVG and count_pad and any(tail)):
        return PAD_FULL
    ctx.fail("output size %s is not what ncnn Pooling computes (floor %s, ceil %s)" % (list(out_hw), floor_out, full_out))


@converter("MaxPool", "AveragePool")
def pool(ctx, node):
    if len([o for o in node.output if o]) > 1:
        ctx.fail("MaxPool indices output is not supported")
    x, y = node.input[0], node.output[0]
    nd = ctx.rank(x) - 2
    if nd not in (1, 2):
        ctx.fail("only 1-D and 2-D pooling are supported, not %d-D" % nd)
    pooling_type = POOL_MAX if node.op_type == "MaxPool" else POOL_AVG
    kernel, strides, pads = _window(ctx, node, nd)
    in_shape, out_shape = ctx.ncnn_shape(x), ctx.ncnn_shape(y)
    in_hw = ([1] + list(in_shape[1:])) if nd == 1 else list(in_shape[1:])
    out_hw = ([1] + list(out_shape[1:])) if nd == 1 else list(out_shape[1:])
    mode = _pad_mode(ctx, node, pooling_type, in_hw, out_hw, kernel, strides, pads)
    params = {0: pooling_type, 1: kernel[1], 11: kernel[0], 2: strides[1], 12: strides[0],
              3: pads[1], 13: pads[0], 14: pads[3], 15: pads[2], 5: mode}
    if mode in (PAD_SAME_UPPER, PAD_SAME_LOWER):
        params.update({3: 0, 13: 0, 14: 0, 15: 0})
    if pooling_type == POOL_AVG:
        params[6] = int(ctx.attrs(node).get("count_include_pad", 0))
    c = in_shape[0]
    if nd == 2:
        ctx.add("Pooling", [ctx.blob(x)], [y], params)
    else:
        ctx.add("Pooling", [ctx.blob(x, (c, 1, in_hw[1]))], [y], params, shapes=[(c, 1, out_hw[1])])


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(ctx, node):
    """Pooling 4=1 on (C, H, W): the ncnn output is 1-D (C,); 1-D inputs use Reduction instead."""
    x, y = node.input[0], node.output[0]
    pooling_type = POOL_MAX if node.op_type == "GlobalMaxPool" else POOL_AVG
    shape = ctx.ncnn_shape(x)
    if len(shape) == 3:
        ctx.add("Pooling", [ctx.blob(x)], [y], {0: pooling_type, 4: 1}, shapes=[(shape[0],)])
        return
    if len(shape) != 2:
        ctx.fail("global pooling of a %d-D tensor is not supported" % (len(shape) + 1))
    operation = 4 if pooling_type == POOL_MAX else 3
    ctx.add("Reduction", [ctx.blob(x)], [y], {0: operation, 1: 0, 3: [1], 4: 1, 5: 1})
