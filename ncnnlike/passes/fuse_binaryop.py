"""Binary-op folding (spec 4.3 passes 3-4, 6-7, 9-10, 13-14, 22-23): a per-channel MemoryData
multiplied or added after a conv-like layer or InnerProduct goes into its weights and bias; a
Dropout scale goes into InnerProduct; scalar MemoryData operands become BinaryOp scalars; scaled
additions become Eltwise SUM.

Beyond ncnn: no fold into a layer with a fused activation, no rewrite when another layer also reads
a blob that disappears, and no Eltwise when the operand shapes are known to differ (Eltwise does not
broadcast).
"""
from ncnnlike.layers.binaryop import ADD, DIV, MAX, MIN, MUL, RDIV, RSUB, SUB
from ncnnlike.paramdict import ParamDict, f32
from ncnnlike.passes.common import (FUSED, find_consumer, fuse_into, live, note, params, per_output,
                                    producer_of, purge, set_param, set_weights, sole_reader)
from ncnnlike.passes.shape_inference import infer_shapes

ELTWISE_SUM = 1


def _memorydata_dims(md):
    p = params(md)
    return (p.w, p.h, p.c, p.d)


def _channel_operand(graph, i, op_type, shapes_ok):
    """(BinaryOp, per-channel values) when the top of layer i is operand 0 of a 2-input, non-scalar
    BinaryOp `op_type` whose operand 1 comes straight from a MemoryData of an accepted shape."""
    layer = graph.layers[i]
    op = find_consumer(graph, i, ("BinaryOp",), bottom_count=2)
    if op is None or params(op).op_type != op_type or params(op).with_scalar:
        return None, None
    md, _ = producer_of(graph, op.bottoms[1])
    if md is None or md.type != "MemoryData" or op.bottoms[0] == op.bottoms[1]:
        return None, None
    p = params(layer)
    if _memorydata_dims(md) not in shapes_ok(p.num_output) or "data" not in md.weights:
        return None, None
    if p.activation_type or "weight_data" not in layer.weights or not sole_reader(graph, layer.tops[0], op):
        return None, None
    return op, md.weight("data").reshape(-1)


def _fuse_mul(graph, log, layer_type, pass_name):
    """`layer_type` -> BinaryOp MUL MemoryData(w=C): weights and bias of channel c times m[c]."""
    count = 0
    for i, layer in live(graph):
        if layer.type != layer_type:
            continue
        op, m = _channel_operand(graph, i, MUL, lambda c: [(c, 0, 0, 0)])
        w = None if op is None else per_output(layer.weight("weight_data"), len(m))
        if w is None:
            continue
        new = {"weight_data": (w * m[:, None]).reshape(-1)}
        if params(layer).bias_term:
            new["bias_data"] = layer.weight("bias_data") * m
        set_weights(layer, **new)
        note(log, pass_name, layer.name, op.name)
        fuse_into(layer, op)
        count += 1
    purge(graph)
    return count


def _fuse_add(graph, log, layer_type, pass_name):
    """`layer_type` -> BinaryOp ADD MemoryData(w=C, or w=1 h=1 c=C): bias += m (created if absent)."""
    count = 0
    for i, layer in live(graph):
        if layer.type != layer_type:
            continue
        op, m = _channel_operand(graph, i, ADD, lambda c: [(c, 0, 0, 0), (1, 1, c, 0)])
        if op is None:
            continue
        p = params(layer)
        bias = layer.weight("bias_data") + m if p.bias_term else m
        if not p.bias_term:
            set_param(layer, "bias_term", 1)
        set_weights(layer, bias_data=bias)
        note(log, pass_name, layer.name, op.name)
        fuse_into(layer, op)
        count += 1
    purge(graph)
    return count


def fuse_convolution_mul(graph, log=None):
    """Convolution -> BinaryOp MUL per-channel MemoryData (spec 4.3 pass 3)."""
    return _fuse_mul(graph, log, "Convolution", "fuse_convolution_mul")


def fuse_convolution_add(graph, log=None):
    """Convolution -> BinaryOp ADD per-channel MemoryData (spec 4.3 pass 4)."""
    return _fuse_add(graph, log, "Convolution", "fuse_convolution_add")


def fuse_convolutiondepthwise_mul(graph, log=None):
    """ConvolutionDepthWise -> BinaryOp MUL (spec 4.3 pass 6)."""
    return _fuse_mul(graph, log, "ConvolutionDepthWise", "fuse_convolutiondepthwise_mul")


def fuse_convolutiondepthwise_add(graph, log=None):
    """ConvolutionDepthWise -> BinaryOp ADD (spec 4.3 pass 7)."""
    return _fuse_add(graph, log, "ConvolutionDepthWise", "fuse_convolutiondepthwise_add")


def fuse_deconvolution_mul(graph, log=None):
    """Deconvolution -> BinaryOp MUL (spec 4.3 pass 9)."""
    return _fuse_mul(graph, log, "Deconvolution", "fuse_deconvolution_mul")


def fuse_deconvolution_add(graph, log=None):
    """Deconvolution -> BinaryOp ADD (spec 4.3 pass 10)."""
    return _fuse_add(graph, log, "Deconvolution", "fuse_deconvolution_add")


def fuse_innerproduct_add(graph, log=None):
    """InnerProduct -> BinaryOp ADD per-output MemoryData (spec 4.3 pass 13)."""
    return _fuse_add(graph, log, "InnerProduct", "fuse_innerproduct_add")


def fuse_innerproduct_dropout(graph, log=None):
    """InnerProduct -> Dropout: weights and bias times the scale when it is not 1; the Dropout goes
    (spec 4.3 pass 14)."""
    count = 0
    for i, layer in live(graph):
        if layer.type != "InnerProduct":
            continue
        drop = find_consumer(graph, i, ("Dropout",))
        if drop is None or not sole_reader(graph, layer.tops[0], drop):
            continue
        p, s = params(layer), f32(params(drop).scale)
        if s != 1:
            if p.activation_type or "weight_data" not in layer.weights:
                continue
            import numpy as np
            s = np.float32(s)
            new = {"weight_data": layer.weight("weight_data") * s}
            if p.bias_term:
                new["bias_data"] = layer.weight("bias_data") * s
            set_weights(layer, **new)
        note(log, "fuse_innerproduct_dropout", layer.name, drop.name)
        fuse_into(layer, drop)
        count += 1
    purge(graph)
    return count


def _scalar_into_binaryop(md, op, blob):
    """Make BinaryOp `op` use MemoryData `md` (read as `blob`) as its scalar b; False when the op
    cannot take the scalar as its first operand (spec 4.3 pass 22: SUB -> RSUB, DIV -> RDIV)."""
    p = params(op)
    index = op.bottoms.index(blob)
    if index == 0:
        swapped = {ADD: ADD, MUL: MUL, MAX: MAX, MIN: MIN, SUB: RSUB, DIV: RDIV}
        if p.op_type not in swapped:
            return False
        set_param(op, "op_type", swapped[p.op_type])
    set_param(op, "with_scalar", 1)
    set_param(op, "b", f32(md.weight("data").reshape(-1)[0]))
    del op.bottoms[index]
    return True


def _is_scalar_memorydata(md):
    return md.type == "MemoryData" and _memorydata_dims(md) == (1, 0, 0, 0) and "data" in md.weights


def _binaryop_reading(graph, start, blobs):
    """The first live 2-input BinaryOp after index `start` reading one of `blobs` (once), or None."""
    for layer in graph.layers[start + 1:]:
        if layer.type == "BinaryOp" and len(layer.bottoms) == 2 and layer.bottoms[0] != layer.bottoms[1]:
            hit = [b for b in layer.bottoms if b in blobs]
            if hit:
                return layer, hit[0]
    return None, None


def fuse_memorydata_binaryop(graph, log=None):
    """Scalar MemoryData (w=1) -> BinaryOp, directly or through a Split, becomes with_scalar=1,
    b=value (spec 4.3 pass 22). A Split loses the used top; with no top left it goes with the
    MemoryData."""
    count = 0
    for i, md in live(graph):
        if not _is_scalar_memorydata(md):
            continue
        op, blob = _binaryop_reading(graph, i, {md.tops[0]})
        if op is not None and sole_reader(graph, blob, op) and _scalar_into_binaryop(md, op, blob):
            note(log, "fuse_memorydata_binaryop", md.name, op.name)
            md.type = FUSED
            count += 1
    for i, md in live(graph):
        if not _is_scalar_memorydata(md):
            continue
        split = find_consumer(graph, i, ("Split",))
        if split is None or not sole_reader(graph, md.tops[0], split):
            continue
        j = next(k for k, l in enumerate(graph.layers) if l is split)
        while split.tops:
            op, blob = _binaryop_reading(graph, j, set(split.tops))
            if op is None or not sole_reader(graph, blob, op) or not _scalar_into_binaryop(md, op, blob):
                break
            note(log, "fuse_memorydata_binaryop", md.name, op.name)
            split.tops.remove(blob)
            count += 1
        if not split.tops:
            split.type = md.type = FUSED
    purge(graph)
    return count


def _scalar_mul_feeding(graph, add, blob):
    """The 1-input BinaryOp MUL producing `blob` that only `add` reads, or None."""
    mul, _ = producer_of(graph, blob)
    if mul is None or mul.type != "BinaryOp" or len(mul.bottoms) != 1 or params(mul).op_type != MUL:
        return None
    return mul if sole_reader(graph, blob, add) else None


def fuse_binaryop_eltwise(graph, log=None):
    """BinaryOp ADD (2 inputs) of scalar MULs -> Eltwise SUM, coeffs [b0 or 1, b1 or 1]; the MULs go
    (spec 4.3 pass 23)."""
    count = 0
    shapes = None
    for _, add in live(graph):
        if add.type != "BinaryOp" or len(add.bottoms) != 2 or add.bottoms[0] == add.bottoms[1]:
            continue
        if params(add).op_type != ADD or params(add).with_scalar:
            continue
        muls = [_scalar_mul_feeding(graph, add, b) for b in add.bottoms]
        if all(m is None for m in muls):
            continue
        shapes = shapes if shapes is not None else infer_shapes(graph) or {}
        known = [shapes.get(b) for b in add.bottoms]
        if None not in known and known[0] != known[1]:
            continue
        note(log, "fuse_binaryop_eltwise", *[m.name if m else add.name for m in muls], add.name)
        coeffs = [f32(params(m).b) if m else 1.0 for m in muls]
        add.bottoms = [m.bottoms[0] if m else b for m, b in zip(muls, add.bottoms)]
        for m in muls:
            if m is not None:
                m.type = FUSED
        add.type, add.params = "Eltwise", ParamDict({0: ELTWISE_SUM, 1: coeffs})
        count += 1
    purge(graph)
    return count
