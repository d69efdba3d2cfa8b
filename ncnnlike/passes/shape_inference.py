"""Shape inference (spec 4.3 pass 35, spec 1.4): when every Input layer declares its shape, each
layer gets `-23330` hints, one (dims, w, h, d, c) per top, as ncnnoptimize's shape_inference().

The shapes come from our runtime's lowering (ncnnlike.runtime.lower.lower_graph), which computes
every blob's ncnn shape without running anything.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.layers import input as input_layer
from ncnnlike.layers.base import resolve
from ncnnlike.passes.common import FUSED, note
from ncnnlike.runtime.lower import lower_graph


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


def infer_shapes(graph):
    """Blob -> ncnn shape (numpy order, no batch) for every blob, or None when an Input has no shape
    or the graph cannot be lowered."""
    live = Graph([layer for layer in graph.layers if layer.type != FUSED])
    shapes, _ = input_shapes(live)
    if shapes is None:
        return None
    try:
        _, _, ctx = lower_graph(live, shapes, live.output_names(), int8=False)
        return {blob: ctx.shape(blob) for layer in live.layers for blob in layer.tops}
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
    may have changed a blob's shape (Convolution -> InnerProduct gives a 1-D top)."""
    shapes, shapeless = input_shapes(graph)
    if shapes is None:
        note(log, "Input layer %s without shape info, shape_inference skipped" % shapeless.name)
        for layer in graph.layers:
            layer.shape_hints = None
        return 0
    blob_shapes = infer_shapes(graph)
    if blob_shapes is None:
        note(log, "shape_inference skipped: the graph cannot be lowered")
        for layer in graph.layers:
            layer.shape_hints = None
        return 0
    note(log, "shape_inference")
    for layer in graph.layers:
        layer.shape_hints = [hint(blob_shapes[t]) for t in layer.tops]
    return len(graph.layers)
