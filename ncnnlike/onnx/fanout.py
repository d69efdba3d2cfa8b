"""The graph's edges, last steps of an import: graph outputs keep their ONNX names, and explicit
fan-out (spec 1.1): a blob read by several layers, or read and also a graph output, goes through a
Split layer whose tops are named `<blob>_splitncnn_<k>`, one per use."""
from ncnnlike.graph import Graph, Layer
from ncnnlike.onnx.importer import sanitize
from ncnnlike.paramdict import ParamDict


def bind_outputs(ctx, outputs):
    """Give each graph output's blob its ONNX name: rename the blob (an Identity was removed), or add
    a Noop when the blob is a graph input or another output; a constant output becomes MemoryData."""
    ctx.node = None
    claimed = {layer.tops[0] for layer in ctx.layers if layer.type == "Input"}
    for out in outputs:
        want = sanitize(out, "out")
        blob, shape = ctx.actual(out)
        if blob != want and blob in claimed:
            ctx.add("Noop", [blob], [want], shapes=[shape], name=want)
        elif blob != want:
            ctx.rename_blob(blob, want)
        claimed.add(want)


def insert_splits(graph, outputs=()):
    """A new Graph where every blob has at most one consumer; each Split follows its producer."""
    uses = {}
    for i, layer in enumerate(graph.layers):
        for j, blob in enumerate(layer.bottoms):
            uses.setdefault(blob, []).append((i, j))
    for blob in outputs:
        if blob in uses:
            uses[blob].append(None)    # the graph output keeps one top of the Split
    splits = {}
    for blob, where in uses.items():
        if len(where) < 2:
            continue
        tops = ["%s_splitncnn_%d" % (blob[:230], k) for k in range(len(where))]
        splits[blob] = Layer("Split", "splitncnn_%d" % len(splits), [blob], tops, ParamDict())
        for k, use in enumerate(where):
            if use is not None:
                i, j = use
                graph.layers[i].bottoms[j] = tops[k]
    layers = []
    for layer in graph.layers:
        layers.append(layer)
        for top in layer.tops:
            if top in splits:
                layers.append(splits.pop(top))
    return Graph(layers)
