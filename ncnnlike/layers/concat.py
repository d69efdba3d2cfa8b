"""Concat (spec 3, concat.cpp): join bottoms of one rank along 0=axis (ncnn axis = numpy axis, no batch)."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param

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
    xs = [ctx.bottom(layer, i) for i in range(len(layer.bottoms))]
    y = xs[0] if len(xs) == 1 else ctx.op("Concat", xs, axis=axis + 1)
    ctx.top(layer, 0, y, shape)
