"""ReduceMean / ReduceMax / ReduceSum ... -> Reduction (spec 3): explicit ncnn axes, 5=fixbug0=1."""
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
    ctx.add("Reduction", [ctx.blob(x)], [y], {0: _OPS[node.op_type], 1: 0, 3: ncnn_axes, 4: keepdims, 5: 1})
