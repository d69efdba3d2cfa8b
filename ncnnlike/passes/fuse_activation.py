"""Activation fusion (spec 4.3 passes 17-21): ReLU, leaky ReLU, Clip, Sigmoid, Mish and HardSwish
after a conv-like layer or InnerProduct become its fused activation (spec 3, fused_activation.h),
for the activations ncnnoptimize fuses into each layer type.

Unlike ncnnoptimize (QUIRK: it overwrites an already-set activation, changing the result), a layer
whose activation_type is not 0 is left alone.
"""
from ncnnlike.paramdict import f32
from ncnnlike.passes.common import find_consumer, fuse_into, live, note, purge, sole_reader

ACTIVATION_TYPE, ACTIVATION_PARAMS = 9, 10   # the same ids in every layer with a fused activation
FLT_MAX = 3.4028234663852886e38             # float32's largest, numpy.finfo(float32).max

ALL = ("ReLU", "Clip", "Sigmoid", "Mish", "HardSwish")
NO_MISH = ("ReLU", "Clip", "Sigmoid", "Mish")
BASIC = ("ReLU", "Clip", "Sigmoid")


def fused_form(act):
    """(activation_type, activation_params) equivalent to activation layer `act` (spec 4.3 pass 17)."""
    p = act.params
    if act.type == "ReLU":
        slope = f32(p.get(0, 0.0))
        return (1, []) if slope == 0 else (2, [slope])
    if act.type == "Clip":
        return 3, [f32(p.get(0, -FLT_MAX)), f32(p.get(1, FLT_MAX))]
    if act.type == "Sigmoid":
        return 4, []
    if act.type == "Mish":
        return 5, []
    if act.type == "HardSwish":
        return 6, [f32(p.get(0, 0.2)), f32(p.get(1, 0.5))]
    raise ValueError("no fused form for %s" % act.type)


def _fuse_activation(graph, log, layer_types, allowed, pass_name):
    """The shared loop: each layer of `layer_types` absorbs the first `allowed` activation reading
    its top, when it has no activation yet and nothing else reads that top."""
    count = 0
    for i, layer in live(graph):
        if layer.type not in layer_types:
            continue
        allowed_here = allowed[layer.type] if isinstance(allowed, dict) else allowed
        act = find_consumer(graph, i, allowed_here)
        if act is None or int(layer.params.get(ACTIVATION_TYPE, 0)) != 0:
            continue
        if not sole_reader(graph, layer.tops[0], act):
            continue
        activation_type, activation_params = fused_form(act)
        layer.params[ACTIVATION_TYPE] = activation_type
        if activation_params:
            layer.params[ACTIVATION_PARAMS] = activation_params
        else:
            layer.params.pop(ACTIVATION_PARAMS, None)
        note(log, pass_name, layer.name, act.name)
        fuse_into(layer, act)
        count += 1
    purge(graph)
    return count


def fuse_convolution_activation(graph, log=None):
    """Convolution -> ReLU/Clip/Sigmoid/Mish/HardSwish; Convolution1D -> ReLU/Clip/Sigmoid/Mish
    (spec 4.3 pass 17)."""
    return _fuse_activation(graph, log, ("Convolution", "Convolution1D"),
                            {"Convolution": ALL, "Convolution1D": NO_MISH}, "fuse_convolution_activation")


def fuse_convolutiondepthwise_activation(graph, log=None):
    """ConvolutionDepthWise -> the same set as Convolution (spec 4.3 pass 18)."""
    return _fuse_activation(graph, log, ("ConvolutionDepthWise",), ALL, "fuse_convolutiondepthwise_activation")


def fuse_deconvolution_activation(graph, log=None):
    """Deconvolution -> ReLU/Clip/Sigmoid only (spec 4.3 pass 19)."""
    return _fuse_activation(graph, log, ("Deconvolution",), BASIC, "fuse_deconvolution_activation")


def fuse_deconvolutiondepthwise_activation(graph, log=None):
    """DeconvolutionDepthWise -> ReLU/Clip/Sigmoid only (spec 4.3 pass 20)."""
    return _fuse_activation(graph, log, ("DeconvolutionDepthWise",), BASIC,
                            "fuse_deconvolutiondepthwise_activation")


def fuse_innerproduct_activation(graph, log=None):
    """InnerProduct -> ReLU/Clip/Sigmoid/Mish/HardSwish (spec 4.3 pass 21)."""
    return _fuse_activation(graph, log, ("InnerProduct",), ALL, "fuse_innerproduct_activation")
