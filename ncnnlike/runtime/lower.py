"""Lower a Graph to an in-memory ONNX model: every layer module's `lower()` in layer order."""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import layer_module, resolve
from ncnnlike.layers.dw_vnni import DOMAIN as DW_DOMAIN
from ncnnlike.layers.lowering import OPSET, LowerCtx
from ncnnlike.runtime.nonnegative import nonnegative_blobs

IR_VERSION = 8
FLOAT = 1   # onnx.TensorProto.FLOAT


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


def lower_layers(graph, input_shapes, outputs, int8=True, build="onnx", threads=1):
    """The LowerCtx after lowering the layers that `outputs` need, from inputs of ncnn shapes
    `input_shapes` (blob -> shape without batch). Any blob may be an input (an Input layer's top,
    or a value computed elsewhere, e.g. by a host layer): the layers before it are not lowered."""
    ctx = LowerCtx(int8=int8, build=build, threads=threads)
    for blob, shape in input_shapes.items():
        ctx.bind(blob, blob, tuple(shape))
    layers = needed_layers(graph, outputs, input_shapes)
    if int8 and build != "shapes":
        ctx.nonnegative = nonnegative_blobs(layers)
    for layer in layers:
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
    return ctx


def lower_shapes(graph, input_shapes, outputs):
    """The ncnn shape of every blob `outputs` need (ctx.shape(blob)), without building any ONNX."""
    return lower_layers(graph, input_shapes, outputs, int8=False, build="shapes")


def lower_graph(graph, input_shapes, outputs, int8=True, probe=None):
    """ONNX model computing `outputs` (float32, batch axis first) from inputs of ncnn shapes
    `input_shapes` (blob -> shape without batch). Returns (model, output tensor names, ctx).
    See lower_layers for the inputs.

    With `probe`, a function (ctx, blob, float tensor) -> [tensors], each output blob is replaced by
    the tensors the probe computes from it in the graph (e.g. reductions for calibration), so that
    large blobs need not leave onnxruntime; the output names then list them blob after blob."""
    import onnx
    from onnx import helper
    ctx = lower_layers(graph, input_shapes, outputs, int8)
    graph_inputs = [helper.make_tensor_value_info(blob, FLOAT, ["N", *tuple(shape)])
                    for blob, shape in input_shapes.items()]
    names = _output_nodes(ctx, outputs, probe, lambda t, out: helper.make_node("Identity", [t], [out], name="n_" + out))
    _drop_folded_clips(ctx, names)
    graph_outputs = [onnx.ValueInfoProto(name=out) for out in names]   # types left to inference
    g = helper.make_graph(ctx.nodes, "ncnnlike", graph_inputs, graph_outputs, ctx.initializers,
                          value_info=[helper.make_tensor_value_info(*v) for v in ctx.value_infos])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets(ctx)])
    model.ir_version = IR_VERSION
    return model, names, ctx


def opsets(ctx):
    """(domain, version) the lowered graph imports: ONNX's, com.microsoft's (int8_fast.py) and, where
    a node uses it, ncnnlike's own (layers/dw_vnni.py: its session must load that library)."""
    out = [("", OPSET), ("com.microsoft", 1)]
    return out + [(DW_DOMAIN, 1)] if uses_custom_ops(ctx) else out


def uses_custom_ops(ctx):
    """Whether the lowered graph has a node of ncnnlike's custom-op library (layers/dw_vnni.py)."""
    return any(node.domain == DW_DOMAIN for node in ctx.nodes)


def _drop_folded_clips(ctx, names):
    """Remove the uint8 Clips that a consumer folded in (ctx.uint8_clips, layers/dw_vnni.py) and that
    nothing else reads: onnxruntime keeps a node nobody reads, and one left NCHW between NHWC
    kernels costs two Transposes besides its own pass."""
    read = {t for node in ctx.nodes for t in node.input} | set(names)
    dead = {out for out in ctx.uint8_clips if out not in read}
    if dead:
        ctx.nodes[:] = [node for node in ctx.nodes if not (node.op_type == "Clip" and node.output[0] in dead)]


def _output_nodes(ctx, outputs, probe, node, direct=False):
    """Identity nodes naming the graph outputs out:<blob>:<k> (made by `node(input, output)`).
    `direct` (no probe): a tensor that a node computes is itself the output, without an Identity,
    which onnxruntime runs as one more copy of every output (Lite0's 50 calibration blobs: 27 MB
    a sample, 1.5 ms)."""
    names = []
    computed = {t for n in ctx.nodes for t in n.output} if direct and probe is None else set()
    for blob in outputs:
        tensors = probe(ctx, blob, ctx.float_of(blob)) if probe else [ctx.float_of(blob)]
        if tensors[0] in computed and tensors[0] not in names:
            names.append(tensors[0])
            continue
        for k, tensor in enumerate(tensors):
            out = "out:%s:%d" % (blob, k)
            ctx.nodes.append(node(tensor, out))
            names.append(out)
    return names


def lower_to_bytes(graph, input_shapes, outputs, int8=True, probe=None, threads=1):
    """lower_graph for the runtime, without the onnx package: (serialized model, output names, ctx,
    [(name, array)] of the weights to hand to onnxruntime as external initializers), see
    layers/onnx_bytes.py. `threads`: the session's intra-op threads (layers/dw_vnni.py splits its
    work among them)."""
    from ncnnlike.layers.lowering import Node
    from ncnnlike.layers import onnx_bytes, pw_fuse
    ctx = lower_layers(graph, input_shapes, outputs, int8, build="records", threads=threads)
    names = _output_nodes(ctx, outputs, probe, lambda t, out: Node("Identity", [t], [out], {}, "n_" + out), direct=True)
    _drop_folded_clips(ctx, names)
    pw_fuse.fuse(ctx, names)
    inputs = [(blob, FLOAT, ["N", *tuple(shape)]) for blob, shape in input_shapes.items()]
    data, external = onnx_bytes.model(ctx.nodes, inputs, names, ctx.initializers, opsets(ctx), IR_VERSION,
                                      value_infos=ctx.value_infos)
    return data, names, ctx, external
