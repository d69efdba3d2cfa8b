"""Staged execution for graphs with host layers: onnxruntime segments around numpy layers.

A host layer (a layer module with HOST = True and forward(layer, p, bottoms) -> tops) computes
something whose output size depends on the data (DetectionOutput's boxes, Proposal's rois), which a
static ONNX graph cannot express. The runtime lowers what precedes it, runs that in onnxruntime,
calls the host layer once per sample, and goes on with the host tops as inputs of the next segment.

Values are kept per blob as a batch array (N, *shape) while every sample has the same shape, else as
a list of N arrays (ragged); a segment fed ragged values runs one sample at a time. Net.run returns
outputs the same way: an array when the samples agree in shape, a list when they do not.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import layer_module, resolve
from ncnnlike.runtime.lower import needed_layers


def is_host(layer):
    return getattr(layer_module(layer.type, "layer %s" % layer.name), "HOST", False)


def host_layers(graph, outputs, available=()):
    """The host layers among those `outputs` need, in graph order."""
    return [layer for layer in needed_layers(graph, outputs, available) if is_host(layer)]


def batch_count(values):
    return len(next(iter(values.values())))


def stack_if_uniform(items):
    """Per-sample arrays -> one batch array if they share a shape, else the list as it is."""
    if items and all(item.shape == items[0].shape for item in items):
        return np.stack(items)
    return list(items)


def run_segment(run_batch, values, targets, probe):
    """The `targets` blobs from the available `values` with one onnxruntime graph: on the whole
    batch when every value is an array, else sample by sample."""
    if all(isinstance(v, np.ndarray) for v in values.values()):
        return run_batch(values, targets, probe)
    n = batch_count(values)
    per_sample = [run_batch({k: v[i][None] for k, v in values.items()}, targets, probe) for i in range(n)]
    if probe is not None:
        return {t: [np.concatenate([s[t][k] for s in per_sample]) for k in range(len(per_sample[0][t]))]
                for t in targets}
    return {t: stack_if_uniform([s[t][0] for s in per_sample]) for t in targets}


def run_host(layer, values):
    """One host layer on every sample: its tops as batch arrays or ragged lists."""
    module = layer_module(layer.type)
    p = resolve(layer)
    n = batch_count(values)
    results = []
    for i in range(n):
        bottoms = [np.asarray(values[b][i], np.float32) for b in layer.bottoms]
        try:
            tops = module.forward(layer, p, bottoms)
        except NcnnlikeError:
            raise
        except Exception as exc:  # a host layer that cannot run on these inputs: name it
            raise NcnnlikeError("layer %s (%s): cannot run: %s" % (layer.name, layer.type, exc)) from exc
        results.append([np.asarray(t, np.float32) for t in tops])
    return {top: stack_if_uniform([r[k] for r in results]) for k, top in enumerate(layer.tops)}


def run_staged(graph, run_batch, feeds, outputs, probe=None):
    """Run `outputs` from `feeds` through onnxruntime segments and host layers in graph order.
    `run_batch(values, targets, probe)` runs one onnxruntime segment on batch arrays."""
    values = dict(feeds)
    for layer in host_layers(graph, outputs, values):
        missing = [b for b in layer.bottoms if b not in values]
        if missing:
            values.update(run_segment(run_batch, values, missing, None))
        values.update(run_host(layer, values))
    targets = list(outputs)
    if probe is None and all(t in values for t in targets):
        return {t: values[t] for t in targets}
    return run_segment(run_batch, values, targets, probe)
