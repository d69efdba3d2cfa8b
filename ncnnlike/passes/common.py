"""What every model-optimize pass shares: finding a layer's partner, fusing, bypassing, logging.

Spec 4.2: passes scan layers in file order; the partner of a producer is the first later layer of
the wanted type whose bottom is the producer's top. A fused layer is marked FUSED (ncnn's
"ncnnfused") and dropped from the graph when its pass ends (`purge`). Unlike ncnnoptimize, a
rewrite that renames or removes a blob first checks that nothing else reads the blob, so a graph
that does not follow the one-consumer/Split convention is never silently broken.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.stored import reordered
from ncnnlike.layers.base import resolve, schema, weight_specs

FUSED = "ncnnfused"


def note(log, *words):
    """One ncnnoptimize-style log line (`fuse_convolution_batchnorm conv1 bn1`)."""
    if log is not None:
        log(" ".join(words))


def params(layer):
    """The layer's params with defaults filled in (by name: p.num_output; by id: p.by_id[0])."""
    return resolve(layer)


def set_param(layer, name, value):
    """Set a param by its schema name (the id differs per type: bias_term is 5 in Convolution, 1 in
    InnerProduct); `value` must have the schema default's Python type (spec 1.2: no coercion)."""
    for param in schema(layer.type):
        if param.name == name:
            layer.params[param.id] = value
            return
    raise NcnnlikeError("layer %s (%s) has no param '%s'" % (layer.name, layer.type, name))


def live(graph):
    """Layers not yet fused away, with their index."""
    return [(i, layer) for i, layer in enumerate(graph.layers) if layer.type != FUSED]


def readers(graph, blob):
    """Live layers that read `blob`."""
    return [l for l in graph.layers if l.type != FUSED and blob in l.bottoms]


def producer_of(graph, blob):
    """(layer, top index) of the live layer that produces `blob`, or (None, -1)."""
    for layer in graph.layers:
        if layer.type != FUSED and blob in layer.tops:
            return layer, layer.tops.index(blob)
    return None, -1


def sole_reader(graph, blob, layer):
    """True when `layer` is the only live reader of `blob` (and reads it once)."""
    found = readers(graph, blob)
    return len(found) == 1 and found[0] is layer and layer.bottoms.count(blob) == 1


def find_consumer(graph, i, types, bottom_count=1, slots=(0,)):
    """ncnn's partner search (spec 4.2): the first live layer after index i whose type is in `types`,
    with `bottom_count` bottoms, reading graph.layers[i].tops[0] at one of `slots`; or None."""
    top = graph.layers[i].tops[0]
    for layer in graph.layers[i + 1:]:
        if layer.type in types and len(layer.bottoms) == bottom_count:
            if any(layer.bottoms[s] == top for s in slots):
                return layer
    return None


def fuse_into(survivor, fused):
    """The survivor takes over the fused layer's top (spec 4.2: the name after the fused op survives)."""
    survivor.tops[0] = fused.tops[0]
    fused.type = FUSED


def bypass(graph, layer):
    """Remove a 1-in-1-out identity layer; False when that would lose a blob name someone needs.

    The producer of its bottom takes over its top (ncnn's way, keeping the later name); when the
    producer is an Input (its blob name is the user's input name) or the bottom has other readers,
    the readers of the top are rewired to the bottom instead, unless the top is a network output."""
    bottom, top = layer.bottoms[0], layer.tops[0]
    producer, k = producer_of(graph, bottom)
    if producer is not None and producer.type != "Input" and sole_reader(graph, bottom, layer):
        producer.tops[k] = top
        layer.type = FUSED
        return True
    later = readers(graph, top)
    if not later:
        return False
    for reader in later:
        reader.bottoms = [bottom if b == top else b for b in reader.bottoms]
    layer.type = FUSED
    return True


def purge(graph):
    """Drop the layers marked FUSED; returns how many were dropped."""
    before = len(graph.layers)
    graph.layers = [layer for layer in graph.layers if layer.type != FUSED]
    return before - len(graph.layers)


def set_weights(layer, **arrays):
    """Assign float32 weights and keep the layer's .bin order (weights(p) of its module), so a newly
    created bias lands right after weight_data. Weights not given stay as they are (unread)."""
    if arrays:
        import numpy as np
        for name, value in arrays.items():
            layer.weights[name] = np.ascontiguousarray(value, dtype=np.float32)
    order = [spec.name for spec in weight_specs(layer)]
    missing = [name for name in order if name not in layer.weights]
    if missing:
        raise NcnnlikeError("layer %s (%s): weight %s is missing" % (layer.name, layer.type, missing[0]))
    layer.weights = reordered(layer.weights, order)


def per_output(weight, channels):
    """Weights viewed as (channels, weights per output channel), as ncnn folds them (spec 4.3 pass 2)."""
    if channels <= 0 or weight.size % channels:
        return None
    return weight.reshape(channels, -1)
