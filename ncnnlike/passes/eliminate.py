"""Eliminations (spec 4.3 passes 24-30, 33, 34): layers that compute nothing at inference time.

An eliminated identity layer is bypassed the ncnn way (its producer takes over its top name) when
that is safe, else its readers are rewired to its bottom (see common.bypass). Unlike ncnnoptimize,
a Split top that no layer reads is a network output and is never lost (QUIRK in spec pass 27).
"""
from ncnnlike.layers.reshape import ABSENT
from ncnnlike.passes.common import (FUSED, bypass, find_consumer, fuse_into, live, note, params,
                                    producer_of, purge, readers, sole_reader)
from ncnnlike.passes.shape_inference import infer_shapes


def _bypass_logged(graph, log, layer, pass_name):
    """Bypass `layer`, logging `pass_name producer layer`; False when it must stay."""
    producer, _ = producer_of(graph, layer.bottoms[0])
    if producer is None or not bypass(graph, layer):
        return False
    note(log, pass_name, producer.name, layer.name)
    return True


def _one_to_one(layer):
    return len(layer.bottoms) == 1 and len(layer.tops) == 1


def eliminate_dropout(graph, log=None):
    """Dropout with scale 1 is an identity (spec 4.3 pass 24)."""
    count = 0
    for _, layer in live(graph):
        if layer.type == "Dropout" and _one_to_one(layer) and params(layer).scale == 1.0:
            count += _bypass_logged(graph, log, layer, "eliminate_dropout")
    purge(graph)
    return count


def eliminate_pooling1x1(graph, log=None):
    """Pooling with a 1x1 kernel, stride 1, no padding, not global nor adaptive (spec 4.3 pass 25)."""
    count = 0
    for _, layer in live(graph):
        if layer.type != "Pooling" or not _one_to_one(layer):
            continue
        p = params(layer)
        if (p.kernel_w, p.kernel_h, p.stride_w, p.stride_h) != (1, 1, 1, 1):
            continue
        if any((p.pad_left, p.pad_right, p.pad_top, p.pad_bottom, p.global_pooling, p.adaptive_pooling)):
            continue
        count += _bypass_logged(graph, log, layer, "eliminate_pooling1x1")
    purge(graph)
    return count


def eliminate_noop(graph, log=None):
    """Noop (spec 4.3 pass 26): without bottoms and unread it is dropped; with one top it is bypassed
    through its first bottom, as ncnn does (its top is that bottom; further bottoms were only
    gathered and stay network outputs; ncnn would lose any further top)."""
    count = 0
    for _, layer in live(graph):
        if layer.type != "Noop":
            continue
        if not layer.bottoms and not any(readers(graph, t) for t in layer.tops):
            note(log, "eliminate_noop", layer.name)
            layer.type = FUSED
            count += 1
        elif layer.bottoms and len(layer.tops) == 1:
            count += _bypass_logged(graph, log, layer, "eliminate_noop")
    purge(graph)
    return count


def eliminate_split(graph, log=None):
    """Split with at most one top (spec 4.3 pass 27). ncnn counts only tops with a consumer, so a
    top that is a network output is lost; here every top counts (an unread top is an output)."""
    count = 0
    for _, layer in live(graph):
        if layer.type != "Split" or len(layer.bottoms) != 1 or len(layer.tops) > 1:
            continue
        if not layer.tops:
            note(log, "eliminate_split", layer.name)
            layer.type = FUSED
            count += 1
        else:
            count += _bypass_logged(graph, log, layer, "eliminate_split")
    purge(graph)
    return count


def _after_global_pooling(graph, layer_type, accept, pass_name, log):
    """Pooling(global) -> `layer_type` accepted by `accept`: the pooling takes over its top."""
    count = 0
    for i, pool in live(graph):
        if pool.type != "Pooling" or not params(pool).global_pooling:
            continue
        layer = find_consumer(graph, i, (layer_type,))
        if layer is None or not accept(layer) or not sole_reader(graph, pool.tops[0], layer):
            continue
        note(log, pass_name, pool.name, layer.name)
        fuse_into(pool, layer)
        count += 1
    purge(graph)
    return count


def eliminate_flatten_after_global_pooling(graph, log=None):
    """Global pooling already gives a 1-D blob, so a Flatten after it does nothing (spec 4.3 pass 28)."""
    return _after_global_pooling(graph, "Flatten", lambda layer: True,
                                 "eliminate_flatten_after_global_pooling", log)


def _is_1d_reshape(layer):
    p = params(layer)
    return p.h == ABSENT and p.d == ABSENT and p.c == ABSENT and not p.shape_expr


def eliminate_reshape_after_global_pooling(graph, log=None):
    """A 1-D Reshape (h = d = c absent, no expression) after global pooling (spec 4.3 pass 29)."""
    return _after_global_pooling(graph, "Reshape", _is_1d_reshape, "eliminate_reshape_after_global_pooling", log)


def eliminate_reshape_before_binaryop(graph, log=None):
    """Reshape to (c, 1, 1) (w = h = 1, no expression) feeding a 2-input BinaryOp: the BinaryOp reads
    the 1-D blob instead, which ncnn broadcasts per channel the same way (spec 4.3 pass 30).
    Skipped when the shapes are known and the reshaped blob is not 1-D."""
    count, shapes = 0, None
    for i, reshape in live(graph):
        if reshape.type != "Reshape" or not _one_to_one(reshape):
            continue
        p = params(reshape)
        if p.w != 1 or p.h != 1 or p.shape_expr:
            continue
        op = find_consumer(graph, i, ("BinaryOp",), bottom_count=2, slots=(0, 1))
        if op is None or not sole_reader(graph, reshape.tops[0], op):
            continue
        shapes = shapes if shapes is not None else infer_shapes(graph) or {}
        known = shapes.get(reshape.bottoms[0])
        if known is not None and len(known) != 1:
            continue
        note(log, "eliminate_reshape_before_binaryop", reshape.name, op.name)
        op.bottoms = [reshape.bottoms[0] if b == reshape.tops[0] else b for b in op.bottoms]
        reshape.type = FUSED
        count += 1
    purge(graph)
    return count


def eliminate_flatten_after_innerproduct(graph, log=None):
    """InnerProduct already gives a 1-D blob (spec 4.3 pass 33); skipped when the shapes are known
    and its output is 2-D (a batch of rows, spec 3 InnerProduct), which Flatten does change."""
    count, shapes = 0, None
    for i, ip in live(graph):
        if ip.type != "InnerProduct":
            continue
        flatten = find_consumer(graph, i, ("Flatten",))
        if flatten is None or not sole_reader(graph, ip.tops[0], flatten):
            continue
        shapes = shapes if shapes is not None else infer_shapes(graph) or {}
        if len(shapes.get(ip.tops[0], (0,))) != 1:
            continue
        note(log, "eliminate_flatten_after_innerproduct", ip.name, flatten.name)
        fuse_into(ip, flatten)
        count += 1
    purge(graph)
    return count


def eliminate_orphaned_memorydata(graph, log=None):
    """MemoryData that no layer reads any more (left by passes 3-13 and 22) (spec 4.3 pass 34)."""
    count = 0
    for _, layer in live(graph):
        if layer.type == "MemoryData" and not readers(graph, layer.tops[0]):
            note(log, "eliminate_orphaned_memorydata", layer.name)
            layer.type = FUSED
            count += 1
    purge(graph)
    return count
