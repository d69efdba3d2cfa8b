"""BatchNormalization -> BatchNorm, LayerNormalization -> LayerNorm, InstanceNormalization ->
InstanceNorm, GroupNormalization (and the chain fuse_norm.py folds) -> GroupNorm (spec 3; buffers raw)."""
import numpy as np

from ncnnlike.onnx.importer import converter


@converter("BatchNormalization")
def batch_norm(ctx, node):
    """BatchNorm on channel axis 1 (ncnn axis 0); weights slope, mean, var, bias (spec 3)."""
    if len([o for o in node.output if o]) > 1 or ctx.attrs(node).get("training_mode", 0):
        ctx.fail("BatchNormalization in training mode is not supported")
    scale, bias, mean, var = (ctx.const_input(node, i).astype(np.float32) for i in (1, 2, 3, 4))
    eps = float(ctx.attrs(node).get("epsilon", 1e-5))
    ctx.add("BatchNorm", [ctx.blob(node.input[0])], [node.output[0]], {0: int(scale.size), 1: eps},
            [scale, mean, var, bias])


@converter("LayerNormalization")
def layer_norm(ctx, node):
    """LayerNorm over the last axis, or the last two of a 3-D blob (affine_size = h*w)."""
    if len([o for o in node.output if o]) > 1:
        ctx.fail("LayerNormalization mean/inv_std outputs are not supported")
    x = node.input[0]
    r = ctx.rank(x)
    axis = int(ctx.attrs(node).get("axis", -1))
    axis = axis + r if axis < 0 else axis
    shape = ctx.ncnn_shape(x)
    k = r - axis
    b = ctx.batch_axis(x)
    if not (k == 1 or (k == 2 and len(shape) == 3)) or (b is not None and b >= axis):
        ctx.fail("LayerNormalization over the last %d axes of a %d-D blob is not supported" % (k, len(shape)))
    size = int(np.prod(ctx.shape(x)[axis:]))
    gamma = np.broadcast_to(ctx.const_input(node, 1).astype(np.float32), ctx.shape(x)[axis:]).ravel()
    beta = np.zeros(size, np.float32)
    if ctx.has_input(node, 2):
        beta = np.broadcast_to(ctx.const_input(node, 2).astype(np.float32), ctx.shape(x)[axis:]).ravel()
    eps = float(ctx.attrs(node).get("epsilon", 1e-5))
    ctx.add("LayerNorm", [ctx.blob(x)], [node.output[0]], {0: size, 1: eps, 2: 1}, [gamma, beta])


@converter("InstanceNormalization")
def instance_norm(ctx, node):
    """InstanceNorm per channel; a (C, L) blob is viewed as (C, 1, L), since ncnn takes a 2-D blob
    as one channel."""
    x, y = node.input[0], node.output[0]
    scale, bias = (ctx.const_input(node, i).astype(np.float32).ravel() for i in (1, 2))
    shape = tuple(ctx.ncnn_shape(x))
    if ctx.batch_axis(x) != 0 or len(shape) < 2:
        ctx.fail("InstanceNormalization needs an (N, C, ...) tensor with the batch first")
    view = shape if len(shape) >= 3 else (shape[0], 1, shape[1])
    eps = float(ctx.attrs(node).get("epsilon", 1e-5))
    ctx.add("InstanceNorm", [ctx.blob(x, view)], [y], {0: shape[0], 1: eps, 2: 1}, [scale, bias], shapes=[view])


def _group_norm(ctx, node, groups, gamma, beta, eps):
    """GroupNorm over the channel axis (ONNX axis 1 = ncnn's outermost axis)."""
    x, y = node.input[0], node.output[0]
    shape = tuple(ctx.ncnn_shape(x))
    if ctx.batch_axis(x) != 0 or len(shape) < 2:
        ctx.fail("GroupNormalization needs an (N, C, ...) tensor with the batch first")
    channels = shape[0]
    ctx.same_shape(y, x)
    if groups <= 0 or channels % groups:
        ctx.fail("num_groups %d does not divide the %d channels" % (groups, channels))
    ctx.add("GroupNorm", [ctx.blob(x)], [y], {0: groups, 1: channels, 2: eps, 3: 1}, [gamma, beta])


@converter("GroupNormalization")
def group_norm(ctx, node):
    """opset 18 gives scale/bias per group (repeated over its channels), opset 21 per channel."""
    a = ctx.attrs(node)
    groups = int(a["num_groups"])
    channels = ctx.ncnn_shape(node.input[0])[0]
    gamma, beta = (ctx.const_input(node, i).astype(np.float32).ravel() for i in (1, 2))
    if gamma.size == groups and groups != channels:
        gamma, beta = np.repeat(gamma, channels // groups), np.repeat(beta, channels // groups)
    if gamma.size != channels or beta.size != channels:
        ctx.fail("scale/bias of %d values fit neither %d groups nor %d channels" % (gamma.size, groups, channels))
    _group_norm(ctx, node, groups, gamma, beta, float(a.get("epsilon", 1e-5)))


@converter("ncnnlike.GroupNorm")
def fused_group_norm(ctx, node):
    a = ctx.attrs(node)
    gamma, beta = (ctx.const_input(node, i).astype(np.float32).ravel() for i in (1, 2))
    _group_norm(ctx, node, int(a["num_groups"]), gamma, beta, float(a["epsilon"]))
