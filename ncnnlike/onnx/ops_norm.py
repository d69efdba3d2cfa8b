"""BatchNormalization -> BatchNorm, LayerNormalization -> LayerNorm (spec 3; buffers raw)."""
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
