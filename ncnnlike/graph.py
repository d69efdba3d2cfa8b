"""Graph, Layer, Blob: the in-memory ncnn model, a topologically ordered list of layers.

Blobs are named; a layer refers to its bottoms and tops by name. Weights live on the layer as an
ordered dict `name -> numpy array` in .bin order (read from a .bin: a StoredWeights, io/stored.py,
whose arrays are made on first use). The dtype of a *tagged* weight records how it is stored
(float32, float16 or int8); raw weights are always float32.
"""
from dataclasses import dataclass, field

from ncnnlike.paramdict import ParamDict


@dataclass
class Layer:
    """One ncnn layer line plus its weights."""
    type: str
    name: str
    bottoms: list = field(default_factory=list)
    tops: list = field(default_factory=list)
    params: ParamDict = field(default_factory=ParamDict)
    weights: dict = field(default_factory=dict)
    shape_hints: list = None  # per top: (dims, w, h, d, c) from -23330, or None

    def weight(self, name):
        """A weight as float32 (int8 and fp16 storage widened by value)."""
        import numpy as np
        return np.asarray(self.weights[name]).astype(np.float32)


@dataclass
class Blob:
    """A named tensor: its producer layer and consumer layers (indices into Graph.layers)."""
    name: str
    producer: int = -1
    consumers: list = field(default_factory=list)


class Graph:
    """An ncnn model: layers in file order. Blob bookkeeping is derived, never stored stale."""

    def __init__(self, layers=None):
        self.layers = list(layers or [])

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def layer(self, name):
        """The layer with this name, or KeyError."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def blobs(self):
        """name -> Blob, in order of first appearance (the order ncnn numbers blobs in)."""
        blobs = {}
        for i, layer in enumerate(self.layers):
            for b in layer.bottoms:
                blobs.setdefault(b, Blob(b)).consumers.append(i)
            for t in layer.tops:
                blobs.setdefault(t, Blob(t)).producer = i
        return blobs

    def blob_names(self):
        return list(self.blobs())

    def producer(self, blob):
        """The layer whose top is `blob`, or None."""
        for layer in self.layers:
            if blob in layer.tops:
                return layer
        return None

    def consumers(self, blob):
        """Layers that read `blob`, in order."""
        return [layer for layer in self.layers if blob in layer.bottoms]

    def input_names(self):
        """Top blobs of Input layers, in order."""
        return [layer.tops[0] for layer in self.layers if layer.type == "Input"]

    def output_names(self):
        """Blobs produced but never consumed, in order: the network outputs."""
        consumed = {b for layer in self.layers for b in layer.bottoms}
        return [t for layer in self.layers for t in layer.tops if t not in consumed]

    def copy(self):
        """A deep copy of layers, params and weights."""
        import numpy as np
        return Graph([Layer(l.type, l.name, list(l.bottoms), list(l.tops), l.params.copy(),
                            {k: np.array(v, copy=True) for k, v in l.weights.items()},
                            None if l.shape_hints is None else list(l.shape_hints))
                      for l in self.layers])
