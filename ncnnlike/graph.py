"""Graph, Layer, Blob: the in-memory ncnn model, a topologically ordered list of layers.

Blobs are named; a layer refers to its bottoms and tops by name. Weights live on the layer as an
ordered dict `name -> numpy array` in .bin order (read from a .bin: a StoredWeights, io/stored.py,
whose arrays are made on first use). The dtype of a *tagged* weight records how it is stored
(float32, float16 or int8); raw weights are always float32.
"""
from ncnnlike.paramdict import ParamDict


class _Record:
    """A mutable record compared by value, as a dataclass would be (dataclasses' import costs ~9 ms of
    every console script's start-up, and model-optimize's whole budget is ~100 ms)."""
    __slots__ = ()
    FIELDS = ()

    def _values(self):
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other):
        return type(other) is type(self) and self._values() == other._values()

    __hash__ = None

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % (n, getattr(self, n)) for n in self.FIELDS))

    def replace(self, **changes):
        """A copy with some fields changed (dataclasses.replace)."""
        values = dict(zip(self.FIELDS, self._values()), **changes)
        return type(self)(**values)


class Layer(_Record):
    """One ncnn layer line plus its weights. shape_hints: per top, (dims, w, h, d, c) from -23330, or None."""
    FIELDS = ("type", "name", "bottoms", "tops", "params", "weights", "shape_hints")

    def __init__(self, type, name, bottoms=None, tops=None, params=None, weights=None, shape_hints=None):
        self.type, self.name = type, name
        self.bottoms = [] if bottoms is None else bottoms
        self.tops = [] if tops is None else tops
        self.params = ParamDict() if params is None else params
        self.weights = {} if weights is None else weights
        self.shape_hints = shape_hints

    def weight(self, name):
        """A weight as float32 (int8 and fp16 storage widened by value)."""
        import numpy as np
        return np.asarray(self.weights[name]).astype(np.float32)


class Blob(_Record):
    """A named tensor: its producer layer and consumer layers (indices into Graph.layers)."""
    FIELDS = ("name", "producer", "consumers")

    def __init__(self, name, producer=-1, consumers=None):
        self.name, self.producer = name, producer
        self.consumers = [] if consumers is None else consumers


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
