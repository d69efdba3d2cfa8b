"""Patterns ONNX exporters emit that ncnnoptimize leaves alone (not in spec 4.3; ours):
`x * sigmoid(x)` -> Swish and `x * hardsigmoid(x)` -> HardSwish.

In ncnn's graph the pattern is a Split of x feeding a Sigmoid (or HardSigmoid) and a 2-input
BinaryOp MUL of the other Split top with the activation's output (either operand order); a graph
without the Split convention (x read directly twice) is matched too. The MUL becomes the new layer
(same name, place and top); the activation and the used Split top go, and a Split left with one
top is bypassed. Run before activation fusion, so a HardSwish after a convolution is then fused.
"""
from ncnnlike.layers.binaryop import MUL
from ncnnlike.paramdict import ParamDict, f32
from ncnnlike.passes.common import FUSED, bypass, live, note, params, producer_of, purge, sole_reader


def _source(graph, blob):
    """(split, blob before it) when `blob` is a Split top, else (None, blob)."""
    producer, _ = producer_of(graph, blob)
    if producer is not None and producer.type == "Split" and len(producer.bottoms) == 1:
        return producer, producer.bottoms[0]
    return None, blob


def _gate_operands(graph, mul, gate_type):
    """(gate layer, blob of x in the MUL) when `mul` multiplies x by `gate_type`(x), else (None, None)."""
    for slot in (0, 1):
        gated, x = mul.bottoms[slot], mul.bottoms[1 - slot]
        gate, _ = producer_of(graph, gated)
        if gate is None or gate.type != gate_type or len(gate.bottoms) != 1 or gated == x:
            continue
        if not sole_reader(graph, gated, mul):
            continue
        split_a, src_a = _source(graph, x)
        split_b, src_b = _source(graph, gate.bottoms[0])
        if src_a != src_b:
            continue
        if split_a is None and split_b is None and x == gate.bottoms[0]:
            return gate, x
        if split_a is not None and split_a is split_b and sole_reader(graph, x, mul):
            return gate, x
    return None, None


def _fuse_gated(graph, log, gate_type, new_type, new_params, pass_name):
    """The shared rewrite: MUL(x, gate(x)) -> new_type(x) with params new_params(gate)."""
    count = 0
    for _, mul in live(graph):
        if mul.type != "BinaryOp" or len(mul.bottoms) != 2:
            continue
        p = params(mul)
        if p.op_type != MUL or p.with_scalar:
            continue
        gate, x = _gate_operands(graph, mul, gate_type)
        if gate is None:
            continue
        note(log, pass_name, gate.name, mul.name)
        split, _ = _source(graph, x)
        mul.type, mul.params, mul.weights = new_type, ParamDict(new_params(gate)), {}
        mul.bottoms = [gate.bottoms[0]]
        gate.type = FUSED
        if split is not None:
            split.tops.remove(x)
            if len(split.tops) == 1:
                bypass(graph, split)
        count += 1
    purge(graph)
    return count


def fuse_swish(graph, log=None):
    """BinaryOp MUL(x, Sigmoid(x)) -> Swish(x): x * sigmoid(x) is Swish (spec 3)."""
    return _fuse_gated(graph, log, "Sigmoid", "Swish", lambda gate: {}, "fuse_swish")


def fuse_hardswish(graph, log=None):
    """BinaryOp MUL(x, HardSigmoid(x)) -> HardSwish(x) with the same alpha and beta:
    x * clamp(alpha*x + beta, 0, 1) is HardSwish's formula (spec 3)."""
    def hardswish_params(gate):
        return {0: f32(gate.params.get(0, 0.2)), 1: f32(gate.params.get(1, 0.5))}
    return _fuse_gated(graph, log, "HardSigmoid", "HardSwish", hardswish_params, "fuse_hardswish")
