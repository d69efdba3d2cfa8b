"""Static shapes and constant folding for the importer: fix batch = 1, infer shapes, fold constants.

ncnn blobs have no batch axis and ncnn layers take static params, so the importer works on a model
whose every tensor has a static shape (onnx shape inference with data propagation) and whose shape
glue (Shape, Gather, Concat, Cast, Unsqueeze ... on constants) is folded to initializers with the
onnx reference evaluator, one node at a time. Folding can make more shapes static (a Reshape whose
target was computed), so inference and folding alternate until nothing more folds.
"""
import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

from ncnnlike.errors import NcnnlikeError

_NEVER_FOLD = ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial")
_MAX_ROUNDS = 8


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _node_label(node):
    return "node '%s' (%s)" % (node.name, node.op_type)


def _set_shapes(model, where, inits, given):
    """Pin graph input shapes to `given` (a list in input order, or {name: shape}): the shape= option
    that lets a dynamic-shape export convert."""
    values = [v for v in model.graph.input if v.name not in inits]
    if isinstance(given, dict):
        unknown = sorted(set(given) - {v.name for v in values})
        if unknown:
            raise NcnnlikeError("%s: shape= names no graph input '%s'" % (where, unknown[0]))
        pairs = [(v, given[v.name]) for v in values if v.name in given]
    else:
        if len(given) != len(values):
            raise NcnnlikeError("%s: shape= gives %d shapes for %d graph inputs" % (where, len(given), len(values)))
        pairs = list(zip(values, given))
    for value, shape in pairs:
        if not shape or any(int(n) <= 0 for n in shape):
            raise NcnnlikeError("%s: shape= for input '%s' must be positive sizes, got %s" % (where, value.name, list(shape)))
        tt = value.type.tensor_type
        old = tt.shape.dim if tt.HasField("shape") else []
        if old and len(old) != len(shape):
            raise NcnnlikeError("%s: shape= for input '%s' has %d dims, the input has %d"
                                % (where, value.name, len(shape), len(old)))
        tt.ClearField("shape")
        for n in shape:
            tt.shape.dim.add().dim_value = int(n)


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
                raise NcnnlikeError("%s: graph input '%s' has a dynamic dim at axis %d; give its shape "
                                    "with shape=[...] or export it with a static shape" % (where, value.name, i))
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


def elem_types(model):
    """tensor name -> ONNX element type (TensorProto enum) where shape inference knows it."""
    out = {}
    for value in list(model.graph.input) + list(model.graph.value_info) + list(model.graph.output):
        if value.type.tensor_type.elem_type:
            out[value.name] = value.type.tensor_type.elem_type
    return out


def _infer(model, where):
    del model.graph.value_info[:]
    for value in model.graph.output:
        value.type.tensor_type.ClearField("shape")
    try:
        return shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:
        raise NcnnlikeError("%s: ONNX shape inference failed: %s" % (where, _first_line(exc))) from None


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _fold_one(node, shapes, consts, opsets, where):
    """Output values of `node` when computable now (all inputs constant, or Shape/Size of a static
    tensor), else None."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _NEVER_FOLD:
        return None
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
        return None
    if node.op_type in ("Shape", "Size"):
        shape = consts[node.input[0]].shape if node.input[0] in consts else shapes.get(node.input[0])
        if shape is None:
            return None
        if node.op_type == "Size":
            return [np.array(int(np.prod(shape)), dtype=np.int64)]
        a = _attrs(node)
        return [np.array(shape[a.get("start", 0):a.get("end", len(shape))], dtype=np.int64)]
    if any(n and n not in consts for n in node.input):
        return None
    try:
        ref = ReferenceEvaluator(node, opsets=opsets)
        return [np.asarray(v) for v in ref.run(None, {n: consts[n] for n in node.input if n})]
    except Exception as exc:
        raise NcnnlikeError("%s: %s: constant folding failed: %s" % (where, _node_label(node), _first_line(exc))) from None


def _fold_pass(model, shapes, consts, opsets, where):
    """Fold what can be folded now; returns the remaining nodes and whether anything folded."""
    remaining, folded = [], False
    for node in model.graph.node:
        values = _fold_one(node, shapes, consts, opsets, where)
        if values is None:
            remaining.append(node)
            continue
        folded = True
        for name, value in zip(node.output, values):
            if name:
                consts[name] = value
    return remaining, folded


def _rebuild(model, nodes, consts):
    """The model with only `nodes`, and the constants they (or the outputs) read as initializers."""
    used = {n for node in nodes for n in node.input} | {o.name for o in model.graph.output}
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items() if k in used)
    return model


def _initializers(model, where):
    try:
        return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    except Exception as exc:
        raise NcnnlikeError("%s: unreadable initializer: %s" % (where, _first_line(exc))) from None


def prepare(model, where, input_shapes=None):
    """(static model, shapes, constants, input names, output names): batch 1, shapes inferred,
    constants folded. The returned model's nodes are the ones left to convert. `input_shapes`
    (list in input order, or {name: shape}) pins dynamic input dims first."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    consts = _initializers(model, where)
    if input_shapes:
        _set_shapes(model, where, consts, input_shapes)
    inputs = _fix_inputs(model, where, consts)
    opsets = {o.domain or "": o.version for o in model.opset_import}
    for _ in range(_MAX_ROUNDS):
        model = _infer(model, where)
        shapes = _static_shapes(model)
        nodes, folded = _fold_pass(model, shapes, consts, opsets, where)
        model = _rebuild(model, nodes, consts)
        if not folded:
            break
    outputs = [o.name for o in model.graph.output]
    return model, shapes, consts, inputs, outputs
