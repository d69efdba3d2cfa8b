"""Shape ops: Flatten/Reshape -> Reshape, Squeeze -> Squeeze, Unsqueeze -> ExpandDims (as pnnx and
onnx2ncnn write them; Reshape where those layers cannot say it), Transpose -> Permute, Concat,
Split -> Slice, Identity/Dropout/Cast -> nothing (Slice is in ops_gather.py) (spec 3 param ids;
ncnn axes are numpy order without batch, ctx.axis maps them)."""
import numpy as np

from ncnnlike.layers import expanddims, squeeze
from ncnnlike.onnx.importer import converter, shape_params


@converter("Identity", "Dropout")
def identity(ctx, node):
    """No layer: the output is the input blob (Dropout is the identity at inference)."""
    if len([o for o in node.output if o]) > 1:
        ctx.fail("Dropout mask output is not supported")
    ctx.alias(node.output[0], node.input[0])


_FLOATS = (1, 10, 11, 16)                # FLOAT, FLOAT16, DOUBLE, BFLOAT16
_INTEGERS = (2, 3, 4, 5, 6, 7, 12, 13)   # (u)int8/16/32/64
TRUNC = 19


@converter("Cast")
def cast(ctx, node):
    """ncnn blobs are float32: a cast to a float type is the identity (a float16/bfloat16 round
    trip keeps float32 precision), a cast to an integer type truncates toward zero (UnaryOp trunc;
    ncnn has no integer overflow), a cast to bool or string is refused."""
    to = int(ctx.attrs(node)["to"])
    if to in _FLOATS:
        ctx.alias(node.output[0], node.input[0])
    elif to in _INTEGERS and ctx.elem_types.get(node.input[0]) in _INTEGERS:
        ctx.alias(node.output[0], node.input[0])      # ids stay as they are (Embed reads int32)
    elif to in _INTEGERS:
        blob, shape = ctx.actual(node.input[0])
        ctx.add("UnaryOp", [blob], [node.output[0]], {0: TRUNC}, shapes=[shape])
    else:
        ctx.fail("cast of a computed tensor to=%d (bool or string) is not supported: ncnn blobs are float" % to)


@converter("Flatten", "Reshape", "Squeeze", "Unsqueeze")
def reshape(ctx, node):
    """Reshape to the inferred ONNX output shape without batch; nothing when the blob already has it
    (ncnn global pooling already yields the 1-D blob a Flatten asks for). Squeeze and Unsqueeze
    become ncnn's Squeeze / ExpandDims with 3=axes (pnnx's form) when that layer, given the blob
    as produced, yields exactly the target shape; otherwise (the blob is not in the input's ONNX
    layout, e.g. a 1-D pooled vector, or the output would pass 4 dims) a Reshape."""
    x, y = node.input[0], node.output[0]
    ctx.set_batch_axis(y, _reshaped_batch_axis(ctx, node, x, y))
    target = tuple(ctx.ncnn_shape(y))
    blob, actual = ctx.actual(x)
    if tuple(actual) == target:
        ctx.alias(y, x)
        ctx.set_batch_axis(y, _reshaped_batch_axis(ctx, node, x, y))
        return
    if int(np.prod(actual)) != int(np.prod(target)):
        ctx.fail("cannot reshape %s to %s" % (list(actual), list(target)))
    layer = _squeeze_layer(ctx, node, tuple(actual), target)
    if layer is not None:
        ctx.add(layer[0], [blob], [y], {3: layer[1]}, shapes=[target])
        return
    ctx.add("Reshape", [blob], [y], shape_params(target), shapes=[target])


class _Axes:
    """The params object the layer modules' out_shape reads (only 3=axes is written)."""

    squeeze_w = squeeze_h = squeeze_d = squeeze_c = 0

    def __init__(self, axes):
        self.axes = axes


def _squeeze_layer(ctx, node, actual, target):
    """(ncnn type, ncnn axes) of the Squeeze / ExpandDims that turns the blob of shape `actual` into
    `target`, or None (not a Squeeze/Unsqueeze, or the blob is not in the ONNX input's layout). A
    squeezed or inserted batch axis is no ncnn axis. The layer modules' out_shape (what ncnn
    computes) decides."""
    x, y = node.input[0], node.output[0]
    if node.op_type not in ("Squeeze", "Unsqueeze") or actual != tuple(ctx.ncnn_shape(x)):
        return None
    kind, module, full = {"Squeeze": ("Squeeze", squeeze, x),
                          "Unsqueeze": ("ExpandDims", expanddims, y)}[node.op_type]
    b = ctx.batch_axis(full)
    ncnn_axes = [a - 1 if b is not None and a > b else a
                 for a in _squeeze_axes(ctx, node, ctx.rank(full)) if a != b]
    if not 0 < len(ncnn_axes) <= 4 or module.out_shape(_Axes(ncnn_axes), actual) != target:
        return None
    return kind, ncnn_axes


def _squeeze_axes(ctx, node, rank):
    """Axes of Squeeze/Unsqueeze (attribute before opset 13, else input 1), normalised to `rank`."""
    a = ctx.attrs(node)
    if "axes" in a:
        axes = list(a["axes"])
    elif ctx.has_input(node, 1):
        axes = [int(v) for v in ctx.const_input(node, 1).ravel()]
    else:
        axes = [i for i, n in enumerate(ctx.shape(node.input[0])) if n == 1]
    return sorted(ax + rank if ax < 0 else ax for ax in axes)


def _reshaped_batch_axis(ctx, node, x, y):
    """Where the batch axis goes: exact for Squeeze/Unsqueeze (None once squeezed away), else the
    first size-1 output axis after as many elements as before the input's batch axis. Batch is 1,
    so dropping any size-1 axis keeps the layout: the fallback is the first size-1 axis, or None."""
    b = ctx.batch_axis(x)
    in_shape, out_shape = ctx.shape(x), ctx.shape(y)
    if b is None:
        return next((j for j, n in enumerate(out_shape) if n == 1), None)
    if node.op_type == "Squeeze":
        axes = _squeeze_axes(ctx, node, len(in_shape))
        return None if b in axes else b - sum(ax < b for ax in axes)
    if node.op_type == "Unsqueeze":
        axes = _squeeze_axes(ctx, node, len(out_shape))
        return [j for j in range(len(out_shape)) if j not in axes][b]
    before = int(np.prod(in_shape[:b]))
    for j, n in enumerate(out_shape):
        if n == 1 and int(np.prod(out_shape[:j])) == before:
            return j
    return next((j for j, n in enumerate(out_shape) if n == 1), None)


_PATTERN = [(0, 1, 2), (1, 0, 2), (0, 2, 1), (2, 0, 1), (1, 2, 0), (2, 1, 0)]


def _names(rank):
    """ncnn Permute order names (out w, h, [d,] c as input dims), index = order_type (permute.cpp)."""
    if rank == 3:
        return ["".join("whc"[i] for i in p) for p in _PATTERN]
    names = []
    for last in "cdhw":
        rest = [ch for ch in "whdc" if ch != last]
        names += ["".join(rest[i] for i in p) + last for p in _PATTERN]
    return names


def order_type(perm):
    """ncnn Permute order_type for a numpy-order permutation of a 2/3/4-D blob."""
    rank = len(perm)
    if rank == 2:
        return {(0, 1): 0, (1, 0): 1}[tuple(perm)]
    axes = "chw" if rank == 3 else "cdhw"           # numpy axis -> ncnn dim letter
    out = "".join(axes[p] for p in perm)[::-1]      # output (w, h, [d,] c) as input letters
    return _names(rank).index(out)


@converter("Transpose")
def transpose(ctx, node):
    """Permute; the batch axis may move (then the output records where it went)."""
    x, y = node.input[0], node.output[0]
    r = ctx.rank(x)
    perm = list(ctx.attrs(node).get("perm", range(r - 1, -1, -1)))
    b = ctx.batch_axis(x)
    out_b = None if b is None else perm.index(b)
    ncnn_perm = [ctx.axis(x, p) for p in perm if p != b]
    if ncnn_perm == sorted(ncnn_perm):
        ctx.alias(y, x)
        ctx.set_batch_axis(y, out_b)
        return
    ctx.set_batch_axis(y, out_b)
    if len(ncnn_perm) not in (2, 3, 4):
        ctx.fail("Permute of a %d-D blob is not supported" % len(ncnn_perm))
    ctx.add("Permute", [ctx.blob(x)], [y], {0: order_type(ncnn_perm)})


@converter("Concat")
def concat(ctx, node):
    y = node.output[0]
    axis = int(ctx.attrs(node)["axis"])
    inputs = [n for n in node.input if n and int(np.prod(ctx.shape(n))) > 0]
    if len(inputs) == 1:
        ctx.alias(y, inputs[0])
        return
    bottoms = [ctx.blob(n, ctx.operand_shape(n, y)) for n in inputs]
    ctx.add("Concat", bottoms, [y], {0: ctx.axis(y, axis)})


@converter("Split")
def split(ctx, node):
    """Slice with the sizes of the inferred outputs along the axis."""
    x = node.input[0]
    r = ctx.rank(x)
    axis = int(ctx.attrs(node).get("axis", 0))
    axis = axis + r if axis < 0 else axis
    sizes = [ctx.shape(o)[axis] for o in node.output]
    ctx.add("Slice", [ctx.blob(x)], list(node.output), {0: sizes, 1: ctx.axis(x, axis)})
