"""cutstart / cutend (spec 4.1): keep only the layers from cutstart to cutend (layer names, file
order of the input model), as ncnnoptimize's writer does.

Unlike ncnnoptimize, the header counts are right (our writer counts what it writes), and every
blob the kept layers read but no kept layer produces gets an Input layer (with its shape when
known), so the cut model loads and runs, in ncnn as in our runtime.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Layer
from ncnnlike.paramdict import ParamDict
from ncnnlike.passes.common import note


def cut_range(graph, cutstart=None, cutend=None):
    """Names of the layers from `cutstart` to `cutend` inclusive (None: the first / last layer),
    taken before optimization as ncnn does; unknown names are an error."""
    names = [layer.name for layer in graph.layers]
    start = _index(names, cutstart, "cutstart") if cutstart is not None else 0
    end = _index(names, cutend, "cutend") if cutend is not None else len(names) - 1
    if start > end:
        raise NcnnlikeError("cutstart layer '%s' comes after cutend layer '%s'" % (cutstart, cutend))
    return set(names[start:end + 1])


def _index(names, name, what):
    if name not in names:
        raise NcnnlikeError("%s: no layer named '%s' in the model" % (what, name))
    return names.index(name)


def _input_params(shape_hint):
    """Input params (0=w, 1=h, 11=d, 2=c) from a (dims, w, h, d, c) hint."""
    dims, w, h, d, c = shape_hint
    values = {0: w, 1: h, 11: d, 2: c}
    ids = {1: (0,), 2: (0, 1), 3: (0, 1, 2), 4: (0, 1, 11, 2)}[dims]
    return ParamDict({pid: int(values[pid]) for pid in ids})


def apply_cut(graph, keep, log=None):
    """Drop the layers whose name is not in `keep`; add an Input layer for each blob that the kept
    layers read but do not produce. Returns how many layers were dropped."""
    hints = {t: layer.shape_hints[k] for layer in graph.layers if layer.shape_hints
             for k, t in enumerate(layer.tops) if layer.shape_hints[k] is not None}
    kept = [layer for layer in graph.layers if layer.name in keep]
    if not kept:
        raise NcnnlikeError("the cut range keeps no layer after optimization")
    produced = {t for layer in kept for t in layer.tops}
    dangling = []
    for layer in kept:
        dangling += [b for b in layer.bottoms if b not in produced and b not in dangling]
    taken = {layer.name for layer in kept}
    inputs = []
    for blob in dangling:
        name = blob if blob not in taken else blob + "_input"
        layer = Layer("Input", name, [], [blob])
        if blob in hints:
            layer.params = _input_params(hints[blob])
            layer.shape_hints = [hints[blob]]
        inputs.append(layer)
        note(log, "cut: input %s" % blob)
    dropped = len(graph.layers) - len(kept)
    graph.layers = inputs + kept
    return dropped
