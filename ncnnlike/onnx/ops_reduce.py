"""ReduceMean / ReduceMax / ReduceSum ... -> Reduction (spec 3): explicit ncnn axes, 5=fixbug0=1;
ArgMax of a whole blob -> ArgMax.

ReduceLogSumExp: ncnn computes log(sum(exp(x))) as written (inf past x ~ 88.7); it runs as
max + logsumexp(x - max), which equals ONNX on the whole range."""
import warnings

import numpy as np

from ncnnlike.errors import NcnnlikeWarning
from ncnnlike.onnx.importer import converter

SUM, ASUM, SUMSQ, MEAN, MAX, MIN, PROD, L1, L2, LOGSUM, LOGSUMEXP = range(11)

_OPS = {"ReduceSum": SUM, "ReduceSumSquare": SUMSQ, "ReduceMean": MEAN, "ReduceMax": MAX,
        "ReduceMin": MIN, "ReduceProd": PROD, "ReduceL1": L1, "ReduceL2": L2,
        "ReduceLogSum": LOGSUM, "ReduceLogSumExp": LOGSUMEXP}


def _axes(ctx, node):
    """ONNX axes from the attribute (older opsets) or input 1; None means 'all axes'."""
    a = ctx.attrs(node)
    if "axes" in a:
        return list(a["axes"])
    if ctx.has_input(node, 1):
        return [int(v) for v in ctx.const_input(node, 1).ravel()]
    return None


@converter(*_OPS)
def reduce(ctx, node):
    x, y = node.input[0], node.output[0]
    a = ctx.attrs(node)
    keepdims = int(a.get("keepdims", 1))
    r = ctx.rank(x)
    axes = _axes(ctx, node)
    if not axes:
        if axes is not None and a.get("noop_with_empty_axes", 0):
            ctx.alias(y, x)
            return
        axes = list(range(r))
    axes = sorted({ax + r if ax < 0 else ax for ax in axes})
    b = ctx.batch_axis(x)
    out_b = b
    if not keepdims and b is not None:       # the batch axis moves left, or is reduced away
        out_b = None if b in axes else b - sum(ax < b for ax in axes)
    ncnn_axes = [ctx.axis(x, ax) for ax in axes if ax != b]
    if not ncnn_axes:
        ctx.alias(y, x)
        ctx.set_batch_axis(y, out_b)
        return
    ctx.set_batch_axis(y, out_b)
    if _OPS[node.op_type] == LOGSUMEXP:
        return _logsumexp(ctx, x, y, ncnn_axes)
    ctx.add("Reduction", [ctx.blob(x)], [y], {0: _OPS[node.op_type], 1: 0, 3: ncnn_axes, 4: keepdims, 5: 1})


def _logsumexp(ctx, x, y, axes):
    """m + logsumexp(x - m), m = max over the axes (all kept as size 1; y's actual shape too)."""
    shape = tuple(ctx.ncnn_shape(x))
    kept = tuple(1 if k in axes else n for k, n in enumerate(shape))
    m, d, r = (ctx.fresh(y + k) for k in ("_max", "_shifted", "_lse"))
    reduce_params = {1: 0, 3: axes, 4: 1, 5: 1}
    ctx.add("Reduction", [ctx.blob(x)], [m], {0: MAX, **reduce_params}, shapes=[kept])
    ctx.add("BinaryOp", [ctx.blob(x), ctx.actual(m)[0]], [d], {0: 1}, shapes=[shape])
    ctx.add("Reduction", [ctx.actual(d)[0]], [r], {0: LOGSUMEXP, **reduce_params}, shapes=[kept])
    ctx.add("BinaryOp", [ctx.actual(r)[0], ctx.actual(m)[0]], [y], {0: 0}, shapes=[kept])


@converter("ArgMax")
def argmax(ctx, node):
    """ArgMax along an axis that holds the whole blob (a class vector): ncnn's ArgMax topk=1.
    ncnn ranks ties to the larger index (ONNX: the first unless select_last_index=1)."""
    x, y = node.input[0], node.output[0]
    r = ctx.rank(x)
    axis = int(ctx.attrs(node).get("axis", 0))
    axis = axis + r if axis < 0 else axis
    shape = ctx.ncnn_shape(x)
    if ctx.batch_axis(x) == axis or int(np.prod(shape)) != ctx.shape(x)[axis]:
        ctx.fail("ArgMax along axis %d of ncnn shape %s: ncnn's ArgMax ranks the whole blob, so the "
                 "axis must hold all its values" % (axis, list(shape)))
    warnings.warn("%s: node '%s' (ArgMax): ncnn's ArgMax layer is left out of pip ncnn's and the default "
                  "ncnn builds; the written model loads only where ArgMax is built" % (ctx.where, node.name),
                  NcnnlikeWarning)
    ctx.add("ArgMax", [ctx.blob(x)], [y], {0: 0, 1: 1}, shapes=[(1, 1)])

