"""Concat (spec 3, concat.cpp): join bottoms of one rank along 0=axis (ncnn axis = numpy axis, no batch)."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Concat"

# ModelWriter order: 0
PARAMS = (
    Param(0, "axis", 0),
)


def out_shape(shapes, axis, where):
    """The concatenated shape, or a clear error when the other dims disagree."""
    first = shapes[0]
    for s in shapes[1:]:
        if len(s) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s, first)) if i != axis):
            raise NcnnlikeError("%s: cannot concat shapes %s along axis %d" % (where, shapes, axis))
    return tuple(sum(s[axis] for s in shapes) if i == axis else d for i, d in enumerate(first))


def lower(layer, p, ctx):
    where = "layer %s (Concat)" % layer.name
    shapes = [ctx.in_shape(layer, i) for i in range(len(layer.bottoms))]
    axis = p.axis + len(shapes[0]) if p.axis < 0 else p.axis
    if not 0 <= axis < len(shapes[0]):
        raise NcnnlikeError("%s: axis %d out of range for shape %s" % (where, p.axis, shapes[0]))
    shape = out_shape(shapes, axis, where)
    xs = _batched([ctx.bottom(layer, i) for i in range(len(layer.bottoms))], len(shape), ctx)
    y = xs[0] if len(xs) == 1 else ctx.op("Concat", xs, axis=axis + 1)
    ctx.top(layer, 0, y, shape)


def _batched(xs, dims, ctx):
    """A constant bottom (MemoryData: batch 1) expanded to the batch of a computed bottom, as
    ONNX Concat does not broadcast (a ViT class token concatenated to a batch of patch tokens)."""
    consts = {init.name for init in ctx.initializers}
    ref = next((x for x in xs if x not in consts), None)
    if ref is None or len(xs) == 1 or all(x not in consts for x in xs):
        return xs
    batch = ctx.op("Shape", [ref], start=0, end=1)
    target = ctx.op("Concat", [batch, ctx.ints([1] * dims)], axis=0)
    return [ctx.op("Expand", [x, target]) if x in consts else x for x in xs]


BLOBS = ((1, None), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
