"""model2table's optional corrections (correct=bias,round): the weights-adjustment entries of every
quantized Convolution / ConvolutionDepthWise / InnerProduct, from the table's scales and the bottom
samples kept during calibration.

Per layer, in model order: the int8 weights (nearest rounding, or the rounding optimiser's with
`round`), then with `bias` the bias corrected for the output shift those weights and the bottom
scale cause. Each layer is independent (its float input, its own scales), so an entry stays valid
whatever other layers the table keeps float.
"""
from collections import OrderedDict

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.adjustfile import LayerAdjust
from ncnnlike.quant.bias_correction import correct_bias
from ncnnlike.quant.patches import layer_gemm, sample_patches
from ncnnlike.quant.rounding import optimise_rounding
from ncnnlike.quant.table_semantics import roundtrip_f

CORRECTIONS = ("bias", "round")
ROWS = 8192


def parse_corrections(text):
    """`bias`, `round`, `bias,round` (any order) -> a tuple in CORRECTIONS order."""
    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in CORRECTIONS]
    if unknown or not names:
        raise NcnnlikeError("correct=%s: expected bias, round or bias,round" % text)
    return tuple(n for n in CORRECTIONS if n in names)


def adjust_layer(layer, weight_scales, bottom_scale, bottoms, corrections, means=None):
    """(LayerAdjust, report line) of one layer for its table scales and bottom samples (`means`:
    the layer's streamed patch means for bias correction, bias_correction.collect_patch_means)."""
    gemm = layer_gemm(layer)
    patches = sample_patches(gemm, bottoms, ROWS, macs=float("inf"))    # the rounding needs rows >= 2K
    q_weight = gemm.quantize_weight(weight_scales)
    entry = LayerAdjust(weight_scales, np.array([bottom_scale], np.float32))
    notes = []
    if "round" in corrections:
        result = optimise_rounding(gemm, patches, weight_scales, bottom_scale)
        if result.skipped:
            notes.append("rounding skipped (%s)" % result.skipped)
        else:
            notes.append("rounding: output error %.4g -> %.4g (%d flips, %d sweeps)"
                         % (result.error_nearest, result.error, result.flips, result.sweeps))
            if result.flips:
                q_weight = result.q_weight
                entry.weight_int8 = q_weight.astype(np.int8).reshape(-1)
    if "bias" in corrections:
        corrected = correct_bias(gemm, patches, q_weight, weight_scales, bottom_scale, means)
        entry.bias = corrected.bias
        notes.append("bias: shift %.3g%% of the output rms removed" % (100 * corrected.relative))
    return entry, "%-32s %s" % (layer.name, "; ".join(notes))


def table_layers(graph, weight_lines, blob_lines):
    """OrderedDict layer name -> (bottom blob, LayerGemm, bottom scale as ncnn2int8 reads it) of the
    layers with both table lines: what collect_patch_means needs."""
    return OrderedDict((name, (graph.layer(name).bottoms[0], layer_gemm(graph.layer(name)),
                               roundtrip_f(blob_lines[name])[0]))
                       for name in blob_lines if name + "_param_0" in weight_lines)


def adjustments(graph, weight_lines, blob_lines, samples, corrections, progress=None, means=None):
    """(OrderedDict layer name -> LayerAdjust, report lines) for every layer with both table lines
    and a sampled bottom; scales are taken as ncnn2int8 reads them (the `%f` round trip). `means`
    (collect_patch_means over every calibration sample) gives bias correction its means."""
    found, report = OrderedDict(), []
    names = [n for n in blob_lines if n + "_param_0" in weight_lines]
    for i, name in enumerate(names):
        layer = graph.layer(name)
        if layer.bottoms[0] not in samples:
            report.append("%-32s no bottom samples: not corrected" % name)
            continue
        weight_scales = roundtrip_f(weight_lines[name + "_param_0"])
        bottom_scale = roundtrip_f(blob_lines[name])[0]
        try:
            entry, line = adjust_layer(layer, weight_scales, bottom_scale, samples[layer.bottoms[0]], corrections,
                                       (means or {}).get(name))
        except NcnnlikeError as e:
            raise NcnnlikeError("layer %s: %s" % (name, e)) from None
        if entry.weight_int8 is not None or entry.bias is not None:
            found[name] = entry
        report.append(line)
        if progress:
            progress(i + 1, len(names))
    return found, report
