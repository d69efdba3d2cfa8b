"""Layer replacements (spec 4.3 passes 15, 16, 31, 32): Reduction pairs -> global average Pooling,
single-slope PReLU -> leaky ReLU, 1x1 Convolution after global pooling or InnerProduct ->
InnerProduct. The new layer keeps the replaced layer's name, place and tops.
"""
from ncnnlike.layers import reduction
from ncnnlike.paramdict import ParamDict, f32
from ncnnlike.passes.common import (FUSED, find_consumer, live, note, params, purge, set_weights,
                                    sole_reader)
from ncnnlike.passes.shape_inference import infer_shapes

POOL_AVG = 1


def _single_axis_mean(layer):
    p = params(layer)
    return (p.operation == reduction.MEAN and not p.reduce_all and f32(p.coeff) == 1.0
            and len(p.axes) == 1 and not p.keepdims)


def _reduced_labels(layer, labels, shape):
    """Simulate one Reduction on axis labels: (labels left, shape out, labels reduced)."""
    p = params(layer)
    axes = reduction.reduced_axes(p, shape, layer.name)
    out = reduction.out_shape(p, shape, axes)
    return [l for i, l in enumerate(labels) if i not in axes], out, {labels[i] for i in axes}


def _is_global_mean(r1, r2, shape):
    """True when Reduction r1 then r2 on a (c, h, w) blob average exactly h and w, leaving (c,)."""
    if shape is None or len(shape) != 3:
        return False
    labels, mid, gone1 = _reduced_labels(r1, ["c", "h", "w"], shape)
    _, out, gone2 = _reduced_labels(r2, labels, mid)
    return gone1 | gone2 == {"h", "w"} and not gone1 & gone2 and out == (shape[0],)


def replace_reduction_with_global_pooling(graph, log=None):
    """Reduction(MEAN, one axis) -> Reduction(MEAN, one axis) that together average h and w of a
    3-D blob -> Pooling(avg, global) (spec 4.3 pass 15).

    ncnn tests the raw axes 2|3 then 2, the old batch-counting axes that current ncnn rejects
    ("param is too old"); with current axes that test does not mean global pooling, so here the
    pair is checked on the inferred shapes (skipped when the Input shapes are unknown)."""
    count, shapes = 0, None
    for i, r1 in live(graph):
        if r1.type != "Reduction" or not _single_axis_mean(r1):
            continue
        r2 = find_consumer(graph, i, ("Reduction",))
        if r2 is None or not _single_axis_mean(r2) or not sole_reader(graph, r1.tops[0], r2):
            continue
        shapes = shapes if shapes is not None else infer_shapes(graph) or {}
        if not _is_global_mean(r1, r2, shapes.get(r1.bottoms[0])):
            continue
        note(log, "replace_reduction_with_global_pooling", r1.name, r2.name)
        r2.type, r2.params, r2.weights = "Pooling", ParamDict({0: POOL_AVG, 4: 1}), {}
        r2.bottoms = [r1.bottoms[0]]
        r1.type = FUSED
        count += 1
    purge(graph)
    return count


def replace_prelu_with_leaky_relu(graph, log=None):
    """PReLU with num_slope 1 -> ReLU(slope) (spec 4.3 pass 16)."""
    count = 0
    for _, layer in live(graph):
        if layer.type != "PReLU" or params(layer).num_slope != 1 or "slope_data" not in layer.weights:
            continue
        note(log, "replace_prelu_with_leaky_relu", layer.name)
        slope = f32(layer.weight("slope_data").reshape(-1)[0])
        layer.type, layer.params, layer.weights = "ReLU", ParamDict({0: slope}), {}
        count += 1
    return count


def _as_innerproduct(conv):
    """Turn a 1x1, unpadded, static-weight Convolution into the equivalent InnerProduct in place;
    int8 scales go to the new layer (ncnn's BUG in pass 32 puts them on the preceding one)."""
    p = params(conv)
    if (p.kernel_w, p.kernel_h) != (1, 1) or any((p.pad_left, p.pad_right, p.pad_top, p.pad_bottom)):
        return False
    if p.dynamic_weight or p.int8_scale_term > 100 or "weight_data" not in conv.weights:
        return False
    new = ParamDict({0: p.num_output, 1: p.bias_term, 2: p.weight_data_size})
    if p.int8_scale_term:
        new[8] = p.int8_scale_term
    if p.activation_type:
        new[9] = p.activation_type
        if p.activation_params:
            new[10] = list(p.activation_params)
    conv.type, conv.params = "InnerProduct", new
    set_weights(conv)
    return True


def replace_convolution_with_innerproduct_after_global_pooling(graph, log=None):
    """Pooling(global) -> Convolution becomes InnerProduct (spec 4.3 pass 31); unlike ncnn only a
    1x1 kernel without padding, the only one that means the same on a 1x1 input."""
    count = 0
    for i, pool in live(graph):
        if pool.type != "Pooling" or not params(pool).global_pooling:
            continue
        conv = find_consumer(graph, i, ("Convolution",))
        if conv is None or not _as_innerproduct(conv):
            continue
        note(log, "replace_convolution_with_innerproduct_after_global_pooling", pool.name, conv.name)
        count += 1
    return count


def replace_convolution_with_innerproduct_after_innerproduct(graph, log=None):
    """InnerProduct -> Convolution becomes InnerProduct, repeated until nothing changes
    (spec 4.3 pass 32)."""
    count, replaced = 0, True
    while replaced:
        replaced = False
        for i, ip in live(graph):
            if ip.type != "InnerProduct":
                continue
            conv = find_consumer(graph, i, ("Convolution",))
            if conv is None or not _as_innerproduct(conv):
                continue
            note(log, "replace_convolution_with_innerproduct_after_innerproduct", ip.name, conv.name)
            count += 1
            replaced = True
    return count
