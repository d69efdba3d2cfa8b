"""The import driver: load, prepare (fold.py), fuse (fuse.py), convert node by node, bind outputs.

Any Python error a malformed model provokes (a missing attribute, a cycle, an unreadable tensor)
becomes one NcnnlikeError line naming the model (and the node, once converting): never a traceback.
"""
import os

import onnx

from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.onnx.importer import FUSED, ImportCtx, converters, sanitize, shape_params


def load_model(path):
    """Read an ONNX file, with one clear error for missing or unreadable files."""
    if not os.path.isfile(path):
        raise NcnnlikeError("%s: no such file" % path)
    try:
        model = onnx.load(path)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NcnnlikeError("%s: not a readable ONNX model (%s)" % (path, reason)) from None
    if not model.ir_version or not model.HasField("graph") or not model.graph.output:
        raise NcnnlikeError("%s: not an ONNX model (no IR version, graph or outputs)" % path)
    return model


def _convert_node(ctx, fn, node):
    """Run one converter; a Python error on a malformed node becomes the one-line refusal."""
    try:
        fn(ctx, node)
    except NcnnlikeError:
        raise
    except Exception as exc:
        text = str(exc).strip()
        ctx.fail("malformed node (%s)" % (text.splitlines()[0] if text else type(exc).__name__))


def _guarded(where, stage, fn, *args):
    """fn(*args); a Python error from a malformed model becomes one NcnnlikeError line."""
    try:
        return fn(*args)
    except NcnnlikeError:
        raise
    except Exception as exc:
        text = str(exc).strip()
        raise NcnnlikeError("%s: malformed ONNX model %s(%s)" % (
            where, stage, text.splitlines()[0] if text else type(exc).__name__)) from None


def import_onnx(path_or_model, where=None, shapes=None):
    """Convert an ONNX model (path or ModelProto) to an ncnn Graph. `shapes` pins the graph input
    shapes (list in input order or {name: shape}, ONNX order with batch) of dynamic-shape exports."""
    from ncnnlike.onnx.fanout import bind_outputs, insert_splits
    from ncnnlike.onnx.fold import elem_types, prepare
    from ncnnlike.onnx.fuse import fuse
    model = load_model(path_or_model) if isinstance(path_or_model, str) else path_or_model
    where = where or (path_or_model if isinstance(path_or_model, str) else "model")
    model, shapes, consts, inputs, outputs = _guarded(where, "", prepare, model, where, shapes)
    ctx = ImportCtx(where, shapes, consts)
    ctx.opset = {o.domain or "": o.version for o in model.opset_import}.get("", 1)
    ctx.elem_types = elem_types(model)
    nodes = _guarded(where, "while fusing decomposed layers ", fuse, list(model.graph.node), consts, outputs, shapes,
                     ctx.opset)
    for name in inputs:
        ctx.add("Input", [], [name], shape_params(ctx.ncnn_shape(name)), name=name)
    table = converters()
    for node in nodes:
        ctx.node = node
        ctx.inherit_batch_axis(node)
        fn = None
        if node.domain in ("", "ai.onnx"):
            fn = table.get(node.op_type)
        elif node.domain == FUSED:
            fn = table.get(FUSED + "." + node.op_type)
        if fn is None:
            ctx.fail("unsupported ONNX op")
        _convert_node(ctx, fn, node)
    bind_outputs(ctx, outputs)
    return insert_splits(Graph(ctx.layers), [sanitize(o, "out") for o in outputs])


def convert(onnx_path, param_path, bin_path, shapes=None):
    """onnx2model: import and write the .param/.bin pair (atomically, by ncnnlike.io)."""
    from ncnnlike.io.model import save_model
    graph = import_onnx(onnx_path, shapes=shapes)
    save_model(graph, param_path, bin_path)
    return graph
