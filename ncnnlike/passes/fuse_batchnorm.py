"""BatchNorm folding (spec 4.3 passes 1, 2, 5, 8, 11, 12): BatchNorm+Scale, and BatchNorm after a
Convolution, ConvolutionDepthWise, Deconvolution, DeconvolutionDepthWise or InnerProduct folded
into that layer's weights and bias, in float32 with ncnnoptimize's operation order.

Beyond ncnn: the fold is skipped when the producer already has a fused activation (BN after the
activation does not commute with it), when BN's channels differ from num_output, or when something
else also reads the producer's top.
"""
from ncnnlike.passes.common import (find_consumer, fuse_into, live, note, params, per_output,
                                    purge, set_param, set_weights, sole_reader)

BN_WEIGHTS = ("slope_data", "mean_data", "var_data", "bias_data")


def batchnorm_fold(bn):
    """(b, a) per channel, float32 (spec 4.3 pass 2): sq = float32(sqrt(var + eps)), b = slope/sq,
    a = bias - slope*mean/sq. No zero guard, as ncnnoptimize."""
    import numpy as np
    slope, mean, var, bias = (bn.weight(name) for name in BN_WEIGHTS)
    sq = np.sqrt(var + np.float32(params(bn).eps))
    with np.errstate(divide="ignore", invalid="ignore"):
        b = slope / sq
        a = bias - slope * mean / sq
    return b.astype(np.float32), a.astype(np.float32)


def fuse_batchnorm_scale(graph, log=None):
    """BatchNorm -> Scale (1 bottom): slope' = slope*s, bias' = bias*s (+ b) (spec 4.3 pass 1)."""
    count = 0
    for i, bn in live(graph):
        if bn.type != "BatchNorm":
            continue
        scale = find_consumer(graph, i, ("Scale",))
        if scale is None or not sole_reader(graph, bn.tops[0], scale):
            continue
        ps, channels = params(scale), params(bn).channels
        if ps.scale_data_size != channels:
            continue
        s = scale.weight("scale_data")
        bias = bn.weight("bias_data") * s
        if ps.bias_term:
            bias = bias + scale.weight("bias_data")
        set_weights(bn, slope_data=bn.weight("slope_data") * s, bias_data=bias)
        note(log, "fuse_batchnorm_scale", bn.name, scale.name)
        fuse_into(bn, scale)
        count += 1
    purge(graph)
    return count


def _foldable(graph, layer, partner):
    """A float layer with static weights, no fused activation, whose top only `partner` reads."""
    p = params(layer)
    return (partner is not None and "weight_data" in layer.weights and not p.activation_type
            and sole_reader(graph, layer.tops[0], partner))


def scale_output_channels(layer, b, a):
    """weight[c] *= b[c]; bias[c] = bias[c]*b[c] + a[c] (a created bias starts at 0); False when the
    weights do not split into len(b) output channels."""
    import numpy as np
    p = params(layer)
    w = per_output(layer.weight("weight_data"), len(b))
    if w is None or p.num_output != len(b):
        return False
    bias = layer.weight("bias_data") if p.bias_term else np.zeros(len(b), np.float32)
    if not p.bias_term:
        set_param(layer, "bias_term", 1)
    set_weights(layer, weight_data=(w * b[:, None]).reshape(-1), bias_data=bias * b + a)
    return True


def _fuse_batchnorm(graph, log, layer_type, pass_name):
    """The shared loop of passes 2, 5, 8, 11, 12: `layer_type` -> BatchNorm."""
    count = 0
    for i, layer in live(graph):
        if layer.type != layer_type:
            continue
        bn = find_consumer(graph, i, ("BatchNorm",))
        if not _foldable(graph, layer, bn):
            continue
        b, a = batchnorm_fold(bn)
        if not scale_output_channels(layer, b, a):
            continue
        note(log, pass_name, layer.name, bn.name)
        fuse_into(layer, bn)
        count += 1
    purge(graph)
    return count


def fuse_convolution_batchnorm(graph, log=None):
    """Convolution -> BatchNorm folded into the convolution (spec 4.3 pass 2)."""
    return _fuse_batchnorm(graph, log, "Convolution", "fuse_convolution_batchnorm")


def fuse_convolutiondepthwise_batchnorm(graph, log=None):
    """ConvolutionDepthWise -> BatchNorm (spec 4.3 pass 5)."""
    return _fuse_batchnorm(graph, log, "ConvolutionDepthWise", "fuse_convolutiondepthwise_batchnorm")


def fuse_deconvolution_batchnorm(graph, log=None):
    """Deconvolution -> BatchNorm; valid since its weights are [outc][inc][k] (spec 4.3 pass 8)."""
    return _fuse_batchnorm(graph, log, "Deconvolution", "fuse_deconvolution_batchnorm")


def fuse_deconvolutiondepthwise_batchnorm(graph, log=None):
    """DeconvolutionDepthWise -> BatchNorm (spec 4.3 pass 11)."""
    return _fuse_batchnorm(graph, log, "DeconvolutionDepthWise", "fuse_deconvolutiondepthwise_batchnorm")


def fuse_innerproduct_batchnorm(graph, log=None):
    """InnerProduct -> BatchNorm, per output row (spec 4.3 pass 12)."""
    return _fuse_batchnorm(graph, log, "InnerProduct", "fuse_innerproduct_batchnorm")

