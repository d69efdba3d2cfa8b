"""auto method: per layer, the 99.99th percentile of |v| unless running the int8 layer shows better.

A histogram method judges a threshold by the blob alone: kl by the divergence of two histograms,
mse by the expected squared error of the values. Neither sees what the layer does with them. On
PP-OCRv4 rec, kl clips the bottom of p2o.Conv.14 (a hardswish output, absmax 0.428) at 0.045:
97.8% of its values are the small negative side of hardswish, the 1.7% that carry the signal lie in
[0.21, 0.43] and are all flattened to 0.045, and the model reads no line right (kl there alone: 0%).

auto runs the layer instead. Candidates: the thresholds that leave at least KEEP = 99.99% of the
values unclipped (that percentile, 99.999, absmax, and a grid absmax * 2^(-k/4) above the floor).
For each, the layer is evaluated in int8 as ncnn computes it (bottom quantized with 127/T after the
table's %f round trip, weights rounded with their table scales, fused activation applied:
quant/patches.py) on sampled positions of real bottoms (quant/samples.py), and its mean squared
output error against the float layer is measured. The percentile threshold is kept unless a
candidate has an output error at least MARGIN times smaller: then the best one wins. So a bounded
activation (ReLU6, sigmoid) is clipped below its bound only when that does not hurt the layer's
output, and no threshold ever clips more than 0.01% of the values (kl clips 1.7% above).

Why not simply the threshold with the smallest layer output error: measured on PP-OCRv4 rec, that
choice clips more (the local error barely sees the rare large values) and reads 91.7% of the lines
where the 99.99th percentile reads 94.7% (fp32 94.0%); and the local error is flat near that
percentile (most layers within 20%), so small differences in it say nothing about the output.
"""
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.methods import mse, percentile
from ncnnlike.quant.patches import layer_gemm, sample_patches
from ncnnlike.quant.weights import weight_scales

PERCENTILES = (99.9, 99.99, 99.999)
GRID_STEPS = 20           # absmax * 2^(-k/4), k = 0..20: down to absmax / 32
ROWS = 2048               # sampled output positions per layer
KEEP = 99.99              # percent of the values a candidate threshold leaves unclipped, at least
MARGIN = 2.0              # how much smaller another candidate's output error must be to move off KEEP


def roundtrip(value):
    """A scale or threshold as the table stores it (`%f`) and ncnn2int8 reads it back (float32)."""
    return np.float32(float("%f" % float(value)))


def floor_threshold(stats, keep=KEEP):
    """The `keep` percentile of |v| (absmax without a histogram, 0 for an all-zero blob)."""
    if stats.histogram is None or not stats.histogram.total():
        return float(stats.absmax.absmax)
    return percentile.threshold(stats, keep) if keep else 0.0


def candidates(stats, keep=KEEP):
    """Sorted distinct positive thresholds to try for one layer's statistics: those that leave at
    least `keep` percent of the values unclipped (the `keep` percentile and above)."""
    absmax = float(stats.absmax.absmax)
    if absmax == 0:
        return []
    found = [absmax * 2.0 ** (-k / 4.0) for k in range(GRID_STEPS + 1)]
    floor = floor_threshold(stats, keep)
    if stats.histogram is not None and stats.histogram.total():
        found.append(mse.threshold(stats))
        found += [percentile.threshold(stats, p) for p in PERCENTILES]
    found.append(floor)
    return sorted(set(t for t in found if t > 0 and t >= floor))


def output_errors(gemm, patches, thresholds, scales):
    """Mean squared error of the int8 layer's output for each threshold (same order)."""
    from ncnnlike.quant.methods import blob_scale
    reference = gemm.output(patches)
    q_weight = gemm.quantize_weight(scales)
    errors = []
    for t in thresholds:
        y = gemm.int8_output(patches, q_weight, scales, roundtrip(blob_scale(t)))
        errors.append(float(np.mean(np.square(y - reference, dtype=np.float64))))
    return errors


def choose(layer, stats, bottoms, rows=ROWS, keep=KEEP, margin=MARGIN):
    """(threshold, {threshold: error}) for one conv-type layer from its statistics and bottom
    samples: the `keep` percentile, or the candidate whose output error is `margin` times smaller."""
    options = candidates(stats, keep)
    if not options:
        return 0.0, {}
    gemm = layer_gemm(layer)
    patches = sample_patches(gemm, bottoms, rows)
    scales = weight_scales(layer, "kl")
    errors = dict(zip(options, output_errors(gemm, patches, options, scales)))
    best = min(options, key=lambda t: (errors[t], -t))
    floor = options[0]
    return (best if errors[best] * margin < errors[floor] else floor), errors


def thresholds(graph, stats, samples, progress=None, keep=KEEP, margin=MARGIN):
    """OrderedDict layer name -> auto threshold for every layer of `stats` (a layer whose bottom was
    not sampled keeps the `keep` percentile)."""
    out = OrderedDict()
    for i, (name, layer_stats) in enumerate(stats.items()):
        layer = graph.layer(name)
        try:
            if layer.bottoms[0] in samples:
                out[name] = choose(layer, layer_stats, samples[layer.bottoms[0]], keep=keep, margin=margin)[0]
            else:
                out[name] = floor_threshold(layer_stats, keep)
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None
        if progress:
            progress(i + 1, len(stats))
    return out
