"""Shape inference (spec 4.3 pass 35, spec 1.4): when every Input layer declares its shape, each
layer gets `-23330` hints, one (dims, w, h, d, c) per top, as ncnnoptimize's shape_inference().

The shapes come from our runtime's lowering (ncnnlike.runtime.lower.lower_shapes), which computes
every blob's ncnn shape without running anything.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.layers import input as input_layer
from ncnnlike.layers.base import layer_module, resolve
from ncnnlike.passes.common import FUSED, note


def input_shapes(graph):
    """Input blob -> ncnn shape (numpy order), or the first shapeless Input layer as (None, layer)."""
    shapes = {}
    for layer in graph.layers:
        if layer.type == "Input":
            shape = input_layer.shape(resolve(layer))
            if shape is None:
                return None, layer
            shapes[layer.tops[0]] = shape
    return shapes, None


def lowered_shapes(graph):
    """Blob -> ncnn shape (numpy order, no batch) for every blob, or None when an Input has no shape;
    an NcnnlikeError naming the layer when the graph cannot be lowered."""
    live = Graph([layer for layer in graph.layers if layer.type != FUSED])
    shapes, _ = input_shapes(live)
    if shapes is None:
        return None
    from ncnnlike.runtime.lower import lower_shapes   # the runtime (and numpy) only for a shaped model
    ctx = lower_shapes(live, shapes, live.output_names())
    return {blob: ctx.shape(blob) for layer in live.layers for blob in layer.tops}


def infer_shapes(graph):
    """lowered_shapes, or None when the graph cannot be lowered (the passes then skip a rewrite)."""
    try:
        return lowered_shapes(graph)
    except NcnnlikeError:
        return None


def hint(shape):
    """(dims, w, h, d, c) of an ncnn shape in numpy order, unused dims 1 as in ncnn::Mat (spec 1.4)."""
    shape = tuple(int(s) for s in shape)
    dims = len(shape)
    if dims == 1:
        return (1, shape[0], 1, 1, 1)
    if dims == 2:
        return (2, shape[1], shape[0], 1, 1)
    if dims == 3:
        return (3, shape[2], shape[1], 1, shape[0])
    return (4, shape[3], shape[2], shape[1], shape[0])


def shape_inference(graph, log=None):
    """Set layer.shape_hints for every layer (returns how many got hints). Without a shape on every
    Input, ncnn skips this step; we then also drop hints read from the input file, since fusions
    may have changed a blob's shape (Convolution -> InnerProduct gives a 1-D top). A graph that
    cannot be lowered is an error (issue 15: a tool must not write what it cannot check)."""
    shapes, shapeless = input_shapes(graph)
    if shapes is None:
        note(log, "Input layer %s without shape info, shape_inference skipped" % shapeless.name)
        for layer in graph.layers:
            layer.shape_hints = None
        return 0
    host = next((layer for layer in graph.layers if getattr(layer_module(layer.type), "HOST", False)), None)
    if host is not None:
        note(log, "shape_inference skipped: layer %s (%s) has a data-dependent output" % (host.name, host.type))
        for layer in graph.layers:
            layer.shape_hints = None
        return 0
    try:
        blob_shapes = lowered_shapes(graph)
    except NcnnlikeError as exc:   # a model we cannot run would be written unchecked: fail instead
        raise NcnnlikeError("shape_inference: the graph cannot be lowered: %s" % exc) from None
    note(log, "shape_inference")
    for layer in graph.layers:
        layer.shape_hints = [hint(blob_shapes[t]) for t in layer.tops]
    return len(graph.layers)
