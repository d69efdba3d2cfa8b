"""Which blobs are provably >= 0, from the layers that compute them (for the fast int8 lowering).

A float blob quantized to int8 is clamped to ncnn's [-127, 127]; the uint8 carrier (q+128) already
saturates the top, and its Clip for the -127 floor is inert when the blob cannot be negative:
int8_fast.quantize leaves it out there. Measured on ncnn's 35 benchmark networks: 457 of the 930
int8 layers that quantize a float bottom read one that follows ReLU, ReLU6, a sigmoid or a pooling
of them (ResNet, GoogLeNet, SqueezeNet, RegNet, the SSDs), each a uint8 pass saved.

The proof is structural (no data): an activation whose output is >= 0, or a layer that only moves,
selects, averages or takes maxima of values that are all >= 0. A blob given from outside (an input,
or an inner blob fed to Net.run) is never assumed >= 0.
"""
from ncnnlike.layers.base import resolve

ALWAYS = ("Sigmoid", "HardSigmoid", "AbsVal", "Softmax", "Exp")
# layers whose every top is made of bottom values, their means or their maxima (Pooling pads max
# with -inf and averages with 0; Interp 1 / 2 are nearest and bilinear, convex combinations)
PASS_THROUGH = ("Pooling", "Split", "Concat", "Slice", "Flatten", "Reshape", "Noop", "Crop",
                "Permute", "ShuffleChannel", "Squeeze", "ExpandDims", "PixelShuffle", "Reorg")
FUSED = ("Convolution", "ConvolutionDepthWise", "InnerProduct", "Deconvolution", "DeconvolutionDepthWise")
RELU, CLIP, SIGMOID = 1, 3, 4      # fused activation_type values whose output is >= 0 (Clip: min >= 0)
# Reduction operations (times coeff): >= 0 on any bottom (asum, sumsq, l1, l2), or on one >= 0 (sum,
# mean, max, min, prod)
REDUCE_ANY, REDUCE_NONNEGATIVE = (1, 2, 7, 8), (0, 3, 4, 5, 6)


def nonnegative_blobs(layers):
    """The set of top blobs of `layers` (in graph order) that are provably >= 0."""
    known = set()
    for layer in layers:
        if produces_nonnegative(layer, known):
            known.update(layer.tops)
    return known


def produces_nonnegative(layer, known):
    """Whether every top of `layer` is >= 0, given the blobs already `known` to be."""
    if layer.type in ALWAYS:
        return True
    if layer.type in PASS_THROUGH or (layer.type == "Interp" and resolve(layer).resize_type in (1, 2)) \
            or (layer.type == "Dropout" and resolve(layer).scale >= 0):
        return bool(layer.bottoms) and all(b in known for b in layer.bottoms)
    if layer.type == "Reduction":
        p = resolve(layer)
        return p.coeff >= 0 and (p.operation in REDUCE_ANY
                                 or (p.operation in REDUCE_NONNEGATIVE and layer.bottoms[0] in known))
    if layer.type == "ReLU":
        return resolve(layer).slope == 0
    if layer.type == "Clip":
        return resolve(layer).min >= 0
    if layer.type in FUSED:
        p = resolve(layer)
        params = list(p.activation_params or [])
        clip_at_or_above_zero = p.activation_type == CLIP and bool(params) and params[0] >= 0
        return p.activation_type in (RELU, SIGMOID) or clip_at_or_above_zero
    return False
