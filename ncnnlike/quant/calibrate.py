"""Stream calibration images through the runtime and collect per-layer statistics (spec 5.3-5.5).

The measured blob of each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) is its
`bottoms[0]`, keyed by the layer name. Phase 1 finds absmax; phase 2 (only for methods that need
it) histograms |v| over [0, absmax]. Each phase is one batched run per batch of images. Phase 1
reduces inside the runtime graph (a probe returns per-sample minima and maxima, not the blobs);
phase 2 takes the blobs and bins them with numpy (measured here: the same binning as ONNX ops in
the graph was 4x slower than numpy). Nothing is kept across batches but the statistics: memory
does not grow with the number of images.
"""
from collections import OrderedDict

import numpy as np
from tqdm import tqdm

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.stats import CalibrationStats
from ncnnlike.quant.weights import CONV_TYPES


def measured_blobs(graph):
    """OrderedDict layer name -> the bottom blob ncnn2table measures for it, in param order."""
    return OrderedDict((layer.name, layer.bottoms[0]) for layer in graph if layer.type in CONV_TYPES)


def _measured_flat(ctx, blob, x):
    """(N, K) view of what ncnn2table reads of a blob: a 4-D blob's d axis is ignored (only d = 0)."""
    if len(ctx.shape(blob)) == 4:
        x = ctx.op("Gather", [x, ctx.ints(0)], axis=2)
    return ctx.op("Flatten", [x], axis=1)


def extrema_probe(ctx, blob, x):
    """Phase 1 in the graph: per-sample min and max of the measured blob."""
    flat = _measured_flat(ctx, blob, x)
    return [ctx.op("ReduceMin", [flat], axes=[1], keepdims=0), ctx.op("ReduceMax", [flat], axes=[1], keepdims=0)]


def _phase(net, lists, preprocess, blobs, batch_size, threads, probe, consume, label, progress):
    """One pass over the images: run the net with `probe` on each batch, hand results to `consume`."""
    unique = list(dict.fromkeys(blobs.values()))
    with tqdm(total=len(lists[0]), desc=label, unit="img", disable=not progress, leave=False) as bar:
        for inputs in iter_batches(lists, preprocess, batch_size, threads):
            outputs = net.run(inputs, unique, probe=probe)
            for name, blob in blobs.items():
                consume(name, outputs[blob])
            bar.update(len(next(iter(inputs.values()))))


def collect_stats(net, lists, preprocess, histogram=True, batch_size=16, threads=1, progress=True):
    """CalibrationStats of every conv layer of `net.graph` over the samples of `lists`."""
    blobs = measured_blobs(net.graph)
    if not blobs:
        raise NcnnlikeError("the model has no Convolution, ConvolutionDepthWise or InnerProduct layer to calibrate")
    stats = CalibrationStats(blobs.keys())
    counts = {}

    def extrema(name, result):
        lows, highs = result
        stats[name].absmax.update_extrema(lows, highs, counts.setdefault(name, _per_sample(net, blobs[name])))

    _phase(net, lists, preprocess, blobs, batch_size, threads, extrema_probe, extrema, "count the absmax", progress)
    if histogram:
        stats.start_histograms()
        _phase(net, lists, preprocess, blobs, batch_size, threads, None, stats.update_histogram,
               "build histogram", progress)
    return stats


def _per_sample(net, blob):
    """Elements per sample that ncnn2table reads of a blob (c*h*w; d ignored)."""
    shape = net.blob_shape(blob)
    if len(shape) == 4:
        shape = (shape[0],) + tuple(shape[2:])
    return int(np.prod(shape))
