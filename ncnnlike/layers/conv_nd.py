"""Shared by Convolution1D/3D and ConvolutionDepthWise1D/3D: the lowering to ONNX Conv (static
weights) or Gather + Einsum (dynamic_weight: the weights as the second bottom); the float lowering
and the geometry checks also serve Convolution and ConvolutionDepthWise (rank 2, whose int8 paths
live in int8.py). Their params and .bin buffers: conv_params.py.

ncnn (convolution.cpp, convolution1d.cpp, convolution3d.cpp and the depthwise twins) borders the
bottom (nd_geometry: explicit pads with pad_value, or SAME), then for each output position sums
weight x value over the group's channels and the kernel, starting from the bias, and applies the
fused activation. Weights are [num_output][channels / group][kd][kh][kw].

None of the 1-D / 3-D types has int8: load_param never reads id 8 (int8_scale_term) and load_model
reads only weight_data and bias_data, so an 8=... in a .param is ignored by ncnn; we ignore it too
(the writer keeps it verbatim as an id outside the schema).
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import nd_geometry as geo
from ncnnlike.layers.activation import lower_fused

# activation_type -> how many activation_params ncnn reads (fused_activation.h activation_ss)
ACTIVATION_PARAM_COUNT = {0: 0, 1: 0, 2: 1, 3: 2, 4: 0, 5: 0, 6: 2}


def fail(layer, message):
    """The NcnnlikeError naming the layer."""
    return NcnnlikeError("layer %s (%s): %s" % (layer.name, layer.type, message))


def check_activation(layer, p):
    """A known activation_type with the params ncnn reads for it."""
    need = ACTIVATION_PARAM_COUNT.get(p.activation_type)
    if need is None:
        raise fail(layer, "unknown activation_type %d (0..6)" % p.activation_type)
    if len(p.activation_params or []) < need:
        raise fail(layer, "activation_type %d needs %d activation_params, got %d"
                   % (p.activation_type, need, len(p.activation_params or [])))


BOTTOM_KINDS = {1: "a 2-D (h, w)", 2: "a 3-D (c, h, w)", 3: "a 4-D (c, d, h, w) or 3-D (c, h, w)"}


def bottom_shape(ctx, layer, rank):
    """(channels, sizes, lifted) of bottom 0: a 2-D (h, w) blob for the 1-D layers, a 3-D (c, h, w)
    one for the 2-D layers, a 4-D (c, d, h, w) one for the 3-D layers, where a 3-D (c, h, w) blob
    runs as d = 1 like ncnn's Mat (lifted: see nd_geometry.check_lifted_depth)."""
    shape = tuple(ctx.in_shape(layer))
    lifted = rank == 3 and len(shape) == 3
    if lifted:
        shape = (shape[0], 1) + shape[1:]
    if len(shape) != rank + 1:
        raise fail(layer, "expects %s bottom, got shape %s" % (BOTTOM_KINDS[rank], shape))
    return shape[0], list(shape[1:]), lifted


def spatial_bottom(ctx, layer, rank):
    """(tensor, channels, sizes, lifted) of bottom 0 (bottom_shape), the tensor (N, channels, *sizes)."""
    channels, sizes, lifted = bottom_shape(ctx, layer, rank)
    x = ctx.bottom(layer)
    if lifted:
        x = ctx.op("Unsqueeze", [x, ctx.ints([2])])
    return x, channels, sizes, lifted


def check_group(layer, channels, num_output, group):
    """num_output >= 1, and group must divide channels and num_output (ncnn would silently drop the
    remainder)."""
    if num_output < 1:
        raise fail(layer, "num_output must be >= 1, got %d" % num_output)
    if group < 1 or channels % group or num_output % group:
        raise fail(layer, "group %d must divide channels %d and num_output %d" % (group, channels, num_output))


def geometry(layer, axes, sizes, lifted=False, packed=False):
    """(borders, out sizes, crop/pad plan), ValueErrors turned into NcnnlikeError; `packed`: pip
    ncnn pads this bottom channel-packed (nd_geometry.check_packed)."""
    try:
        geo.check_axes(axes)
        borders = geo.conv_borders(axes, sizes)
        geo.check_lifted_depth(borders, lifted)
        geo.check_packed(borders, packed)
        return borders, geo.out_sizes(axes, sizes, borders), geo.crops_and_pads(axes, sizes, borders)
    except ValueError as exc:
        raise fail(layer, str(exc)) from None


def bordered(ctx, x, sizes, plan, pad_value):
    """x cropped, and padded with pad_value unless that is 0 (then the returned pads go to Conv)."""
    x = geo.crop(ctx, x, sizes, plan, 2)
    if pad_value != 0.0:
        return geo.pad(ctx, x, plan, 2, np.float32(pad_value)), [0] * (2 * len(plan))
    return x, [c[2] for c in plan] + [c[3] for c in plan]


def checked_geometry(ctx, layer, p, rank, group, pack=4):
    """(channels, sizes, axes, out sizes, crop/pad plan) of a static-weight convolution after
    every check, emitting no node. `pack`: the channel multiple at which pip ncnn's x86 2-D kernels
    pad the bottom packed (4 for float, 8 for int8; no 1-D layer gets a negative border and the
    3-D layers have no x86 kernel)."""
    check_activation(layer, p)
    channels, sizes, lifted = bottom_shape(ctx, layer, rank)
    check_group(layer, channels, p.num_output, group)
    axes = geo.axes_of(p, rank)
    kernel = [a.kernel for a in axes]
    if p.weight_data_size != p.num_output * (channels // group) * int(np.prod(kernel)):
        raise fail(layer, "weight_data_size %d is not num_output %d x channels %d / group %d x kernel %s"
                   % (p.weight_data_size, p.num_output, channels, group, "x".join(map(str, kernel))))
    _, out, plan = geometry(layer, axes, sizes, lifted, packed=rank == 2 and channels % pack == 0)
    return channels, sizes, axes, out, plan


def lower_conv(ctx, layer, p, rank, group):
    """Float convolution with static weights, `group` groups, bias and fused activation."""
    channels, sizes, axes, out, plan = checked_geometry(ctx, layer, p, rank, group)
    x, _, _, _ = spatial_bottom(ctx, layer, rank)
    x, pads = bordered(ctx, x, sizes, plan, p.pad_value)
    kernel = [a.kernel for a in axes]
    w = layer.weight("weight_data").reshape([p.num_output, channels // group] + kernel)
    inputs = [x, ctx.const(w, layer.name + "_w")]
    if p.bias_term:
        inputs.append(ctx.const(layer.weight("bias_data"), layer.name + "_b"))
    y = ctx.op("Conv", inputs, group=group, kernel_shape=kernel, strides=[a.stride for a in axes],
               dilations=[a.dilation for a in axes], pads=pads)
    y = lower_fused(ctx, y, p.activation_type, p.activation_params)
    ctx.top(layer, 0, y, [p.num_output] + out)


def dynamic_weight_shape(ctx, layer, channels, group):
    """(num_output, kernel_w) of the weight bottom, a 3-D blob (num_output, channels / group, kernel_w)
    (ncnn takes num_output from its c and kernel_w from its w, and reads it flattened)."""
    shape = ctx.in_shape(layer, 1)
    if len(shape) != 3 or shape[1] * group != channels:
        raise fail(layer, "dynamic_weight expects a 3-D weight bottom (num_output, %d, kernel_w), got shape %s"
                   % (channels // max(group, 1), tuple(shape)))
    return shape[0], shape[2]


def dynamic_bias(ctx, layer, num_output):
    """Bottom 2 (any shape of num_output values, ncnn flattens it) as (N, num_output, 1)."""
    shape = ctx.in_shape(layer, 2)
    if int(np.prod(shape)) != num_output:
        raise fail(layer, "dynamic bias bottom has shape %s, not %d values" % (tuple(shape), num_output))
    return ctx.op("Reshape", [ctx.bottom(layer, 2), ctx.ints([0, num_output, 1])])


def lower_dynamic_1d(ctx, layer, p, group):
    """1-D convolution with per-sample weights: gather the windows (N, C, outw, k), then one Einsum
    per batch over each group's channels and the kernel (ONNX Conv needs one weight for the batch)."""
    check_activation(layer, p)
    n_bottoms = 3 if p.bias_term else 2
    if len(layer.bottoms) != n_bottoms:
        raise fail(layer, "dynamic_weight with bias_term %d takes %d bottoms, got %d"
                   % (p.bias_term, n_bottoms, len(layer.bottoms)))
    x, channels, sizes, _ = spatial_bottom(ctx, layer, 1)
    if group < 1 or channels % group:
        raise fail(layer, "group %d must divide channels %d" % (group, channels))
    num_output, kernel_w = dynamic_weight_shape(ctx, layer, channels, group)
    check_group(layer, channels, num_output, group)
    axes = geo.axes_of(p, 1, kernel_w=kernel_w)
    _, (out_w,), plan = geometry(layer, axes, sizes)
    x = geo.pad(ctx, geo.crop(ctx, x, sizes, plan, 2), plan, 2, np.float32(p.pad_value))
    a = axes[0]
    index = np.arange(out_w)[:, None] * a.stride + np.arange(kernel_w)[None, :] * a.dilation
    windows = ctx.op("Gather", [x, ctx.ints(index)], axis=2)                   # (N, C, outw, k)
    cg, og = channels // group, num_output // group
    windows = ctx.op("Reshape", [windows, ctx.ints([0, group, cg, out_w, kernel_w])])
    w = ctx.op("Reshape", [ctx.bottom(layer, 1), ctx.ints([0, group, og, cg, kernel_w])])
    y = ctx.op("Einsum", [windows, w], equation="ngcjk,ngock->ngoj")
    y = ctx.op("Reshape", [y, ctx.ints([0, num_output, out_w])])
    if p.bias_term:
        y = ctx.op("Add", [y, dynamic_bias(ctx, layer, num_output)])
    y = lower_fused(ctx, y, p.activation_type, p.activation_params)
    ctx.top(layer, 0, y, (num_output, out_w))


def lower(layer, p, ctx, rank, group):
    """Entry point of the four type modules."""
    if getattr(p, "dynamic_weight", 0):
        return lower_dynamic_1d(ctx, layer, p, group)
    if len(layer.bottoms) != 1:
        raise fail(layer, "takes one bottom without dynamic_weight, got %d" % len(layer.bottoms))
    return lower_conv(ctx, layer, p, rank, group)
