"""Threshold methods: name -> function(LayerStats) -> threshold in activation units; the table.

The blob scale written to the table is 127 / threshold in float32 (spec 5.5 step 5). kl and aciq
reproduce ncnn2table; minmax, percentile and mse go beyond it. Two methods need more than one
layer's statistics and are run by model2table itself: eq (eq.py, equalization over the model) and
auto (auto.py, thresholds judged by running the int8 layers on real bottoms). A zero threshold (an all-zero blob)
gives scale 1.0 instead of ncnn's inf.
"""
import functools
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.methods import aciq, kl, minmax, mse, percentile

METHODS = OrderedDict([
    ("kl", kl.threshold),
    ("aciq", aciq.threshold),
    ("minmax", minmax.threshold),
    ("percentile", percentile.threshold),
    ("mse", mse.threshold),
])
NEEDS_HISTOGRAM = frozenset(["kl", "percentile", "mse"])
MODEL_METHODS = ("eq", "auto")       # need the model and data, not only statistics
ALL_METHODS = tuple(METHODS) + MODEL_METHODS
OPTIONS = {"percentile": ("percentile",)}


def get(name, **options):
    """The threshold function of a method, with its options bound (e.g. percentile=99.9)."""
    if name in MODEL_METHODS:
        raise NcnnlikeError("method %s needs the model and calibration data, not only statistics: "
                            "run it with model2table" % name)
    if name not in METHODS:
        raise NcnnlikeError("unknown method '%s' (expected one of %s)" % (name, ", ".join(ALL_METHODS)))
    unknown = set(options) - set(OPTIONS.get(name, ()))
    if unknown:
        raise NcnnlikeError("method %s takes no option %s" % (name, ", ".join(sorted(unknown))))
    return functools.partial(METHODS[name], **options) if options else METHODS[name]


def needs_histogram(name):
    """Whether the method reads the phase-2 histogram (else phase 1 is enough)."""
    return name in NEEDS_HISTOGRAM


def blob_scale(threshold):
    """127 / threshold in float32, or 1.0 when the threshold is 0 or the scale would not be finite."""
    threshold = np.float32(threshold)
    if not threshold > 0:
        return 1.0
    with np.errstate(over="ignore"):
        scale = np.float32(127) / threshold
    return float(scale) if np.isfinite(scale) else 1.0


def thresholds(stats, method, threads=1, **options):
    """OrderedDict layer name -> threshold for every layer of a CalibrationStats, the layers shared
    among `threads` threads as ncnn2table does (KL's search is numpy work that releases the GIL:
    Lite0's 50 searches take 0.4-0.5 s of CPU). The first layer runs alone: it builds the
    method's cached tables."""
    fn = get(method, **options)

    def one(item):
        name, layer_stats = item
        try:
            return name, fn(layer_stats)
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None

    items = list(stats.items())
    done = [one(item) for item in items[:1]]
    if int(threads) > 1 and len(items) > 2:
        with ThreadPoolExecutor(max_workers=int(threads)) as pool:
            done += list(pool.map(one, items[1:]))
    else:
        done += [one(item) for item in items[1:]]
    return OrderedDict(done)


def blob_scales(stats, method, **options):
    """OrderedDict layer name -> blob scale (127/threshold, guarded) for every layer."""
    return OrderedDict((name, blob_scale(t)) for name, t in thresholds(stats, method, **options).items())


def compute_table(graph, stats, method, known_thresholds=None, **options):
    """The calibration table of a model: (weight lines, blob lines, static lines), each an OrderedDict
    key -> float32 values, ready for tablefile.write_table (spec 5.9 order).

    Conv layers (Convolution, ConvolutionDepthWise, InnerProduct) need statistics under their
    layer name; the blob line key is the layer name, not the blob name. `known_thresholds`
    (layer name -> threshold, from thresholds()) avoids computing them twice.
    """
    from ncnnlike.quant.weights import CONV_TYPES, conv_weight_lines, static_weight_lines
    names = [layer.name for layer in graph if layer.type in CONV_TYPES]
    missing = [name for name in names if name not in stats]
    if missing:
        raise NcnnlikeError("no calibration statistics for layer %s" % missing[0])
    if known_thresholds is None:
        known_thresholds = thresholds(OrderedDict((name, stats[name]) for name in names), method, **options)
    scales = OrderedDict((name, blob_scale(known_thresholds[name])) for name in names)
    blob_lines = OrderedDict((name, np.array([scale], np.float32)) for name, scale in scales.items())
    return conv_weight_lines(graph, method), blob_lines, static_weight_lines(graph)
