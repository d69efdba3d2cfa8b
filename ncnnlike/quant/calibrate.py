"""Stream calibration images through the runtime and collect per-layer statistics (spec 5.3-5.5).

The measured blob of each conv layer (Convolution, ConvolutionDepthWise, InnerProduct) is its
`bottoms[0]`, keyed by the layer name. Phase 1 finds absmax; phase 2 (only for methods that need
it) histograms over [0, absmax]. Each phase is one batched run per batch of images that returns
every measured blob at once; nothing is kept across batches but the statistics, so memory does
not grow with the number of images.
"""
from collections import OrderedDict

from tqdm import tqdm

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.stats import CalibrationStats
from ncnnlike.quant.weights import CONV_TYPES


def measured_blobs(graph):
    """OrderedDict layer name -> the bottom blob ncnn2table measures for it, in param order."""
    return OrderedDict((layer.name, layer.bottoms[0]) for layer in graph if layer.type in CONV_TYPES)


def _phase(net, lists, preprocess, blobs, batch_size, threads, update, label, progress):
    """One pass over the images: run the net on each batch and feed every measured blob to `update`."""
    unique = list(dict.fromkeys(blobs.values()))
    total = len(lists[0])
    with tqdm(total=total, desc=label, unit="img", disable=not progress, leave=False) as bar:
        for inputs in iter_batches(lists, preprocess, batch_size, threads):
            outputs = net.run(inputs, unique)
            for name, blob in blobs.items():
                update(name, outputs[blob])
            bar.update(len(next(iter(inputs.values()))))


def collect_stats(net, lists, preprocess, histogram=True, batch_size=16, threads=1, progress=True):
    """CalibrationStats of every conv layer of `net.graph` over the samples of `lists`."""
    blobs = measured_blobs(net.graph)
    if not blobs:
        raise NcnnlikeError("the model has no Convolution, ConvolutionDepthWise or InnerProduct layer to calibrate")
    stats = CalibrationStats(blobs.keys())
    _phase(net, lists, preprocess, blobs, batch_size, threads, stats.update_absmax, "count the absmax", progress)
    if histogram:
        stats.start_histograms()
        _phase(net, lists, preprocess, blobs, batch_size, threads, stats.update_histogram,
               "build histogram", progress)
    return stats
