"""Lower a Graph to an in-memory ONNX model: every layer module's `lower()` in layer order."""
import onnx
from onnx import helper

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import layer_module, resolve
from ncnnlike.layers.lowering import OPSET, LowerCtx

IR_VERSION = 8


def needed_layers(graph, outputs, available=()):
    """The layers that contribute to `outputs`, in graph order (so extract runs only what it needs),
    stopping at `available` blobs (values given from outside: inputs, or a host layer's tops)."""
    available = set(available)
    wanted = set(outputs) - available
    keep = []
    for layer in reversed(graph.layers):
        if wanted.intersection(layer.tops):
            keep.append(layer)
            wanted.update(b for b in layer.bottoms if b not in available)
    missing = set(outputs) - available - {t for layer in keep for t in layer.tops}
    if missing:
        raise NcnnlikeError("no layer produces blob '%s'" % sorted(missing)[0])
    return keep[::-1]


def lower_graph(graph, input_shapes, outputs, int8=True, probe=None):
    """ONNX model computing `outputs` (float32, batch axis first) from inputs of ncnn shapes
    `input_shapes` (blob -> shape without batch). Returns (model, output tensor names, ctx).
    Any blob may be an input (an Input layer's top, or a value computed elsewhere, e.g. by a host
    layer): the layers before it are not lowered.

    With `probe`, a function (ctx, blob, float tensor) -> [tensors], each output blob is replaced by
    the tensors the probe computes from it in the graph (e.g. reductions for calibration), so that
    large blobs need not leave onnxruntime; the output names then list them blob after blob."""
    ctx = LowerCtx(int8=int8)
    graph_inputs = []
    for blob, shape in input_shapes.items():
        shape = tuple(shape)
        graph_inputs.append(helper.make_tensor_value_info(blob, onnx.TensorProto.FLOAT, ["N", *shape]))
        ctx.bind(blob, blob, shape)
    for layer in needed_layers(graph, outputs, input_shapes):
        if layer.type == "Input":
            raise NcnnlikeError("input blob '%s' was not given" % layer.tops[0])
        module = layer_module(layer.type, "layer %s" % layer.name)
        if getattr(module, "HOST", False):
            raise NcnnlikeError("layer %s (%s) runs on the host, not in the lowered graph" % (layer.name, layer.type))
        try:
            module.lower(layer, resolve(layer), ctx)
        except NcnnlikeError:
            raise
        except Exception as exc:  # a layer the lowering cannot express: name it
            raise NcnnlikeError("layer %s (%s): cannot run: %s" % (layer.name, layer.type, exc)) from exc
    names, graph_outputs = [], []
    for blob in outputs:
        tensors = probe(ctx, blob, ctx.float_of(blob)) if probe else [ctx.float_of(blob)]
        for k, tensor in enumerate(tensors):
            out = "out:%s:%d" % (blob, k)
            ctx.nodes.append(helper.make_node("Identity", [tensor], [out], name="n_" + out))
            graph_outputs.append(onnx.ValueInfoProto(name=out))  # type left to inference
            names.append(out)
    g = helper.make_graph(ctx.nodes, "ncnnlike", graph_inputs, graph_outputs, ctx.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET),
                                                helper.make_opsetid("com.microsoft", 1)])  # int8_fast.py
    model.ir_version = IR_VERSION
    return model, names, ctx
