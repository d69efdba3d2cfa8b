"""Static shapes and constant folding for the importer: fix batch = 1, infer shapes, fold constants.

ncnn blobs have no batch axis and ncnn layers take static params, so the importer works on a model
whose every tensor has a static shape (onnx shape inference with data propagation) and folds all
shape glue (Shape, Gather, Concat, Cast, Unsqueeze ... on constants) with the onnx reference
evaluator, one node at a time.
"""
import numpy as np
import onnx
from onnx import numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from ncnnlike.errors import NcnnlikeError


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _fix_inputs(model, where, inits):
    """Set the batch axis of every graph input to 1; other dims must be static."""
    names = []
    for value in model.graph.input:
        if value.name in inits:
            continue
        names.append(value.name)
        dims = value.type.tensor_type.shape.dim
        if not value.type.tensor_type.HasField("shape") or not dims:
            raise NcnnlikeError("%s: graph input '%s' has no shape" % (where, value.name))
        for i, dim in enumerate(dims):
            if i == 0 and (dim.HasField("dim_param") or dim.dim_value <= 0):
                dim.Clear()
                dim.dim_value = 1
            elif i == 0 and dim.dim_value != 1:
                raise NcnnlikeError("%s: graph input '%s' has batch %d; ncnn models take batch 1"
                                    % (where, value.name, dim.dim_value))
            elif not dim.HasField("dim_value") or dim.dim_value <= 0:
                raise NcnnlikeError("%s: graph input '%s' has a dynamic dim at axis %d; export it with a "
                                    "static shape" % (where, value.name, i))
    return names


def _static_shapes(model):
    """tensor name -> tuple of ints, for every value whose inferred shape is fully static."""
    shapes = {}
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        tt = value.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = tt.shape.dim
        if all(d.HasField("dim_value") and d.dim_value >= 0 for d in dims):
            shapes[value.name] = tuple(int(d.dim_value) for d in dims)
    return shapes


def prepare(model, where):
    """(model with static shapes, shapes, constants, input names, output names)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    inputs = _fix_inputs(model, where, inits)
    del model.graph.value_info[:]
    for value in model.graph.output:
        value.type.tensor_type.ClearField("shape")
    try:
        model = shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise NcnnlikeError("%s: ONNX shape inference failed: %s" % (where, _first_line(exc))) from None
    outputs = [o.name for o in model.graph.output]
    return model, _static_shapes(model), inits, inputs, outputs


def _shape_of(node, ctx):
    """Shape (opset 15 start/end) and Size of a tensor whose shape inference made static."""
    shape = ctx.shape(node.input[0])
    if node.op_type == "Size":
        return np.array(int(np.prod(shape)), dtype=np.int64)
    attrs = ctx.attrs(node)
    start, end = attrs.get("start", 0), attrs.get("end", len(shape))
    return np.array(shape[start:end], dtype=np.int64)


def evaluate(node, values, opsets, ctx):
    """Run one node on constant inputs with the onnx reference evaluator."""
    try:
        ref = ReferenceEvaluator(node, opsets=opsets)
        outs = ref.run(None, {n: v for n, v in values.items()})
    except Exception as exc:
        ctx.fail("constant folding failed: %s" % _first_line(exc), node)
    return outs


def fold_node(node, ctx, opsets):
    """Fold the node to constants when possible (all inputs constant, or Shape/Size); True if folded."""
    if node.op_type in ("Shape", "Size") and node.domain in ("", "ai.onnx"):
        ctx._consts[node.output[0]] = _shape_of(node, ctx)
        return True
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return False
    if node.op_type in ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"):
        return False
    inputs = [n for n in node.input if n]
    if any(ctx.const(n) is None for n in inputs):
        return False
    outs = evaluate(node, {n: ctx.const(n) for n in inputs}, opsets, ctx)
    for name, value in zip(node.output, outs):
        if name:
            ctx._consts[name] = np.asarray(value)
    return True
