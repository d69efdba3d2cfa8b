"""Run only the part of a model that depends on one layer, from cached values of everything else.

A trial that changes one layer (its input quantized at a candidate threshold; that layer alone
int8 in the float model; that layer alone float in the int8 model) leaves every blob that does not
depend on it as it was. So one pass of the unchanged model over a few samples caches the blobs that
cross any layer's cut (its *frontier*: read by the layer or its dependents, produced elsewhere),
and each trial feeds those to the runtime, which lowers only the dependent layers (runtime: any blob
may be an input). Layers late in the model cost a fraction of a full run; none is decoded or run
twice upstream.

The cache is kept as float16 (2^-11 relative, far below int8's 2^-8 steps; a blob beyond float16's
range stays float32) and its size bounds the number of samples (sample_count).
"""
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError

F16_MAX = 60000.0


def dependents(graph, name):
    """Names of the layer `name` and of every later layer that reads, transitively, one of its tops."""
    found, tops, started = [], set(), False
    for layer in graph:
        if layer.name == name:
            started = True
        elif not (started and tops.intersection(layer.bottoms)):
            continue
        found.append(layer.name)
        tops.update(layer.tops)
    if not started:
        raise NcnnlikeError("no layer named %s" % name)
    return found


def frontier(graph, name):
    """Blobs that `name` and its dependents read but do not produce, in graph order."""
    part = set(dependents(graph, name))
    produced = {t for layer in graph if layer.name in part for t in layer.tops}
    blobs = [b for layer in graph if layer.name in part for b in layer.bottoms if b not in produced]
    return list(dict.fromkeys(blobs))


def frontiers(graph, names):
    """OrderedDict layer name -> its frontier, for each of `names`."""
    return OrderedDict((name, frontier(graph, name)) for name in names)


def _store(value):
    value = np.asarray(value, np.float32)
    return value.astype(np.float16) if np.all(np.abs(value) <= F16_MAX) else value.copy()


class ActivationCache:
    """The values of `blobs` over fixed input batches (one run of `net` per batch), and the outputs.

    `batches` is a list of {input blob: (N, ...)}; each cached batch keeps its inputs too, so a
    frontier that includes an Input's top is served as well."""

    def __init__(self, net, batches, blobs, outputs):
        self.outputs = list(outputs)
        self.values, self.reference = [], []
        wanted = [b for b in dict.fromkeys(blobs) if b not in batches[0]] if batches else []
        for batch in batches:
            result = net.run(batch, list(dict.fromkeys(wanted + self.outputs)))
            kept = {b: _store(v) for b, v in batch.items()}
            kept.update((b, _store(result[b])) for b in wanted)
            self.values.append(kept)
            self.reference.append({o: np.asarray(result[o], np.float32) for o in self.outputs})

    def __len__(self):
        return len(self.values)

    def feeds(self, k, blobs):
        """{blob: float32 array} of batch k for `blobs`."""
        return {b: self.values[k][b].astype(np.float32) for b in blobs}

    def samples(self):
        return sum(len(next(iter(v.values()))) for v in self.values)


def sample_count(bytes_per_sample, budget, low=4, high=16):
    """Samples a cache of `budget` bytes holds (float16), within [low, high]."""
    return int(max(low, min(high, budget // max(1, bytes_per_sample // 2))))


def frontier_bytes(net, batch, blobs):
    """float32 bytes per sample of `blobs`, from one run of a one-sample batch."""
    first = {k: v[:1] for k, v in batch.items()}
    wanted = [b for b in dict.fromkeys(blobs) if b not in first]
    result = net.run(first, wanted) if wanted else {}
    return sum(np.asarray(v).nbytes for v in result.values()) + sum(v.nbytes for v in first.values())


def run_from(net, cache, blobs, k, replace=None):
    """Outputs of `net` on batch k of the cache, fed its frontier `blobs` ({blob: array} in
    `replace` overrides cached values): only the layers after the frontier run."""
    feeds = cache.feeds(k, blobs)
    feeds.update(replace or {})
    return net.run(feeds, cache.outputs)
