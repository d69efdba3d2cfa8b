"""Trials: one int8 configuration of a float model + table, measured against cached fp32 outputs.

A trial converts the float graph with a subset of the table in memory (quant/convert.py; a layer
whose lines are dropped stays float, our table semantics) and measures the network outputs against
the fp32 outputs computed once: no file is written and the fp32 model runs once.

Every layer the table quantizes is a candidate: Convolution, ConvolutionDepthWise and InnerProduct
(kept float by dropping their activation line), Embed, MultiHeadAttention, RNN, LSTM and GRU (by
dropping their `_param_N` lines). Gemm has no table line (ncnn2int8 always quantizes it), so it
cannot be kept float through a table. A trial's score is the task proxy (metric "agreement": the
argmax agreement with fp32, top-1 for class scores, per step for a (T, C) sequence output; the
decoded-sequence agreement is reported beside it, quant/compare.OutputStats) or the output cosine
(metric "cosine"). Decoded CTC strings are too coarse a target on their own: PP-OCRv4 reads the
padding as spaces now and then, and int8 flips those (85% of the decoded strings of its
calibration lines equal fp32's, 97% once stripped), which no layer choice fixes.
"""
import time
from collections import OrderedDict
from dataclasses import dataclass

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import fine_score, output_agreement, output_score, proxy_score
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.table_semantics import apply_table
from ncnnlike.quant.tablefile import Table
from ncnnlike.runtime import Net

METRICS = ("agreement", "cosine")


def table_without(table, float_layers):
    """A copy of `table` without the lines that quantize `float_layers`: a conv layer's activation
    line, a weight-only layer's `_param_N` lines (those layers stay float)."""
    float_layers = set(float_layers)
    blobs = OrderedDict((k, v) for k, v in table.blobs.items() if k not in float_layers)
    weights = OrderedDict((k, v) for k, v in table.weights.items() if not _drops(k, float_layers, table.blobs))
    return Table(table.path, weights, blobs)


def _drops(key, float_layers, blob_lines):
    """A weight line of a weight-only layer kept float (a conv layer keeps its weight line: its
    activation line alone is the switch, in our model2int8 and in ncnn2int8 alike)."""
    layer = key.rsplit("_param_", 1)[0]
    return layer in float_layers and layer not in blob_lines


def candidates(graph, table):
    """The layers `table` quantizes in `graph`, in model order (conv and weight-only layers)."""
    plan = apply_table(graph, table)
    names = set(plan.conv) | set(plan.static)
    return [layer.name for layer in graph if layer.name in names]


@dataclass
class Trial:
    """One measured configuration: the layers kept float and the output agreement it gives."""
    float_layers: frozenset
    outputs: OrderedDict
    metric: str = "agreement"

    @property
    def score(self):
        """The figure a target is checked against: the worst output's argmax agreement or cosine."""
        return self.cosine if self.metric == "cosine" else self.fine

    @property
    def cosine(self):
        return output_score(self.outputs)

    @property
    def agreement(self):
        return proxy_score(self.outputs)

    @property
    def fine(self):
        """Per-step / top-1 agreement: finer than the score, for rankings."""
        return fine_score(self.outputs)

    @property
    def misses(self):
        """The count behind `fine`: argmax decisions (steps, positions; samples for class scores) of
        the worst output that differ from fp32's."""
        out = min(self.outputs.values(), key=lambda s: s.step_agreement)
        return out.steps - out.step_agree

    @property
    def samples(self):
        return next(iter(self.outputs.values())).samples

    def figures(self):
        """'agreement 98.41% (decoded 97.00%), cosine 0.9912' for reports."""
        out = min(self.outputs.values(), key=lambda s: s.step_agreement)
        decoded = " (decoded %.2f%%)" % (100 * out.agreement) if out.kind in ("sequence", "map") else ""
        return "agreement %.2f%%%s, cosine %.6f" % (100 * self.fine, decoded, self.cosine)


class Trials:
    """Measures configurations of one float graph + table (+ weights adjustments) against cached
    fp32 outputs, in one int8 mode of the runtime ("fast" kernels, or "sim": ncnn's arithmetic);
    memoized by the set of layers kept float."""

    def __init__(self, graph, table, batches, reference, threads=1, int8="fast", adjust=None, metric="agreement"):
        if metric not in METRICS:
            raise NcnnlikeError("metric=%s: expected one of %s" % (metric, ", ".join(METRICS)))
        self.graph, self.table, self.batches, self.reference = graph, table, batches, reference
        self.threads, self.int8, self.adjust, self.metric = threads, int8, adjust, metric
        self.candidates = candidates(graph, table)
        if not self.candidates:
            raise NcnnlikeError("table %s quantizes no layer of the model" % table.path)
        self._done = {}
        self.runs = 0
        self.seconds = 0.0

    def key(self, float_layers):
        key = frozenset(float_layers)
        unknown = key - set(self.candidates)
        if unknown:
            raise NcnnlikeError("layer %s is not quantized by table %s" % (sorted(unknown)[0], self.table.path))
        return key

    def convert(self, float_layers, fuse=True):
        """The int8 graph with `float_layers` kept float (every other candidate int8)."""
        quantized, _ = quantize_graph(self.graph, table_without(self.table, self.key(float_layers)), self.adjust,
                                      fuse)
        return quantized

    def net(self, graph):
        net = Net.from_graph(graph)
        net.opt.num_threads, net.opt.use_int8_inference = self.threads, self.int8
        return net

    def measure(self, float_layers):
        """Trial with `float_layers` kept float and every other candidate int8 (cached by the set)."""
        key = self.key(float_layers)
        if key not in self._done:
            start = time.perf_counter()
            net = self.net(self.convert(key))
            self._done[key] = Trial(key, output_agreement(net, self.batches, self.reference), self.metric)
            self.runs += 1
            self.seconds += time.perf_counter() - start
        return self._done[key]

    def all_int8(self):
        return self.measure(())

    def only_int8(self, name):
        return self.measure(set(self.candidates) - {name})
