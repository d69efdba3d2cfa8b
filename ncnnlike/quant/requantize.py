"""fuse_requantize (spec 6.5): an int8 Conv/ConvDW feeding int8 Conv/ConvDW outputs int8 directly.

The producer gets int8_scale_term + 100 (102 Convolution, 101 ConvolutionDepthWise) and a top scale
equal to the consumer's bottom scale, so the consumer reads the requantized int8 blob as is. Pass 1:
the producer's top is the single bottom of a later Conv/ConvDW. Pass 2: the top feeds a Split whose
every top is the single bottom of an int8 Conv/ConvDW. A separate activation layer breaks the chain;
InnerProduct never takes part. Guards ncnn lacks: the blob must have no other consumer, and through
a Split all consumers must share one bottom scale (else the fusion is skipped with a warning).
"""
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

FUSABLE = ("Convolution", "ConvolutionDepthWise")
INT8_SCALE_TERM = 8
REQUANTIZE = 100


def assign_weights(layer, arrays):
    """Set a layer's buffers from `arrays` in .bin order, named and checked by its module's weights(p)."""
    specs = weight_specs(layer)
    made = [int(np.asarray(a).size) for a in arrays]
    if [s.count for s in specs] != made:
        raise NcnnlikeError("layer %s (%s): its module expects buffers of %s elements, the conversion made %s"
                            % (layer.name, layer.type, [s.count for s in specs], made))
    layer.weights = OrderedDict((s.name, np.asarray(a) if s.tagged else np.asarray(a, np.float32).reshape(-1))
                                for s, a in zip(specs, arrays))


def is_int8_conv(layer):
    """A Convolution/ConvolutionDepthWise whose weights are stored int8 (ncnn checks elemsize 1)."""
    return (layer.type in FUSABLE and bool(layer.weights)
            and next(iter(layer.weights.values())).dtype == np.int8)


def bottom_scale(layer):
    """The bottom_blob_int8_scales buffer: the last one, or the one before the top scale (spec 3)."""
    buffers = list(layer.weights.values())
    return buffers[-2] if layer.params.get(INT8_SCALE_TERM, 0) > REQUANTIZE else buffers[-1]


def add_top_scale(layer, scale):
    """int8_scale_term += 100 and append the top scale (spec 6.5, bin layout 6.6)."""
    layer.params[INT8_SCALE_TERM] = layer.params.get(INT8_SCALE_TERM, 0) + REQUANTIZE
    assign_weights(layer, list(layer.weights.values()) + [np.asarray(scale, np.float32).reshape(1)])


def sole_consumer(layers, consumers, blob, types):
    """Index of the one layer reading `blob`, if it has exactly that one bottom and a type in `types`."""
    readers = consumers.get(blob, [])
    if len(readers) != 1:
        return None
    j = readers[0]
    return j if layers[j].type in types and layers[j].bottoms == [blob] else None


def split_consumers(layers, consumers, split):
    """The Conv/ConvDW readers of every top of a Split, or None if any top goes elsewhere."""
    found = [sole_consumer(layers, consumers, top, FUSABLE) for top in split.tops]
    return None if any(k is None for k in found) else found


def fuse_requantize(graph):
    """Apply both passes in place: a list of fused (producer, consumer or Split) names, and warnings."""
    layers = graph.layers
    consumers = {}
    for j, layer in enumerate(layers):
        for b in layer.bottoms:
            consumers.setdefault(b, []).append(j)
    fused, warnings = [], []
    for layer in layers:
        if not is_int8_conv(layer):
            continue
        j = sole_consumer(layers, consumers, layer.tops[0], FUSABLE)
        if j is not None and is_int8_conv(layers[j]):
            add_top_scale(layer, bottom_scale(layers[j]))
            fused.append((layer.name, layers[j].name))
    for layer in layers:
        if not is_int8_conv(layer) or layer.params.get(INT8_SCALE_TERM, 0) > REQUANTIZE:
            continue
        s = sole_consumer(layers, consumers, layer.tops[0], ("Split",))
        readers = split_consumers(layers, consumers, layers[s]) if s is not None else None
        if not readers or not all(is_int8_conv(layers[k]) for k in readers):
            continue
        scales = [np.asarray(bottom_scale(layers[k]), np.float32).reshape(-1)[0] for k in readers]
        if len(set(scales)) > 1:
            warnings.append("no fuse_requantize %s %s: its consumers %s have different bottom scales"
                            % (layer.name, layers[s].name, ", ".join(layers[k].name for k in readers)))
            continue
        add_top_scale(layer, scales[0])
        fused.append((layer.name, layers[s].name))
    return fused, warnings
