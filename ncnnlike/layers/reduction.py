"""Reduction (spec 3, reduction.cpp): sum/asum/sumsq/mean/max/min/prod/l1/l2/logsum/logsumexp.

Axes are in ncnn's dims-without-batch convention, which is the numpy axis of the blob (3-D: 0 = c,
1 = h, 2 = w); a 1-D blob always reduces its w. ncnn rejects axes without `5=fixbug0=1` ("param is
too old"); ncnn's writer forces 5=1 whenever axes are given, so a converter must set it.
Output: keepdims keeps every axis (size 1); otherwise reduced axes are dropped and reducing all
gives a 1-D blob of 1 element.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Reduction"

SUM, ASUM, SUMSQ, MEAN, MAX, MIN, PROD, L1, L2, LOGSUM, LOGSUMEXP = range(11)
FLT_MIN = 1.17549435e-38   # float32's least normal number

# ModelWriter order: 0 1 2 -23303 4 5 (5=1 is forced when axes are given)
PARAMS = (
    Param(0, "operation", 0),
    Param(1, "reduce_all", 1),
    Param(2, "coeff", 1.0),
    Param(3, "axes", []),
    Param(4, "keepdims", 0),
    Param(5, "fixbug0", 0),
)


def reduced_axes(p, shape, where):
    """Numpy axes (without batch) the layer reduces, following resolve_reduce_flags_and_output_shape."""
    dims = len(shape)
    if p.reduce_all or dims == 1:
        return tuple(range(dims))
    axes = set()
    for a in p.axes:
        a = a + dims if a < 0 else a
        if not 0 <= a < dims:
            raise NcnnlikeError("%s: axis %d out of range for a %d-D blob" % (where, a, dims))
        axes.add(a)
    return tuple(sorted(axes))


def out_shape(p, shape, axes):
    """ncnn's output shape: keepdims keeps rank; else drop the axes (all dropped -> (1,))."""
    if p.keepdims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    kept = tuple(s for i, s in enumerate(shape) if i not in axes)
    return kept or (1,)


def lower_sum_like(ctx, op, x, onnx_axes):
    """The accumulation stage (reduction_op's op_type), keepdims=1."""
    axes_attr = dict(axes=onnx_axes, keepdims=1)
    if op in (MAX, MIN, PROD):
        return ctx.op({MAX: "ReduceMax", MIN: "ReduceMin", PROD: "ReduceProd"}[op], [x], **axes_attr)
    if op in (ASUM, L1):
        x = ctx.op("Abs", [x])
    elif op in (SUMSQ, L2):
        x = ctx.op("Mul", [x, x])
    elif op == LOGSUMEXP:
        x = ctx.op("Exp", [x])   # ncnn: log(sum(exp(x))), no max subtraction
    return ctx.op("ReduceSum", [x, ctx.ints(onnx_axes)], keepdims=1)


def lower(layer, p, ctx):
    import numpy as np   # here, not at the top: model-optimize reads this module's params without numpy
    where = "layer %s (Reduction)" % layer.name
    if not 0 <= p.operation <= LOGSUMEXP:
        raise NcnnlikeError("%s: unknown operation %d (0..10)" % (where, p.operation))
    if p.axes and not p.fixbug0:
        raise NcnnlikeError("%s: axes given without 5=1 (fixbug0); ncnn rejects this param as too old" % where)
    shape = ctx.in_shape(layer)
    axes = reduced_axes(p, shape, where)
    y = ctx.bottom(layer)
    if axes:
        y = lower_sum_like(ctx, p.operation, y, [a + 1 for a in axes])
    if p.operation in (LOGSUM, LOGSUMEXP):
        y = ctx.op("Log", [y])
    elif p.operation == L2:   # ncnn flushes subnormal sums to 0 before sqrt
        small = ctx.op("Less", [y, ctx.const(np.float32(FLT_MIN))])
        y = ctx.op("Sqrt", [ctx.op("Where", [small, ctx.const(np.float32(0)), y])])
    coeff = np.float32(p.coeff)
    if p.operation == MEAN:
        coeff = coeff / np.float32(int(np.prod([shape[a] for a in axes])))
    if coeff != np.float32(1):
        y = ctx.op("Mul", [y, ctx.const(np.float32(coeff))])
    top = out_shape(p, shape, axes)
    ctx.top(layer, 0, ctx.op("Reshape", [y, ctx.ints([0] + list(top))]), top)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 10, "operation")
    checks.flag(p, "reduce_all", "keepdims", "fixbug0")
    checks.finite(p, 'coeff')
    checks.axes(p, "axes")
    if p.axes and not p.fixbug0:
        raise checks.Invalid("axes without 5=1 (fixbug0): ncnn's load_param refuses it as too old")
