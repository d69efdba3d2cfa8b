"""onnxruntime's saved optimized model without the reorders that calibration's statistics do not need.

onnxruntime computes convolutions in a blocked layout (NCHWc: channels in blocks of 8 or 16) and
adds a ReorderOutput node (domain com.microsoft.nchwc) wherever a blocked tensor leaves that
layout: before every graph output and every node outside its NCHWc-aware ops. A blocked tensor
whose channels are a multiple of 16 holds exactly the blob's values, each sample's contiguous, in
another order (with other channel counts the blocks are padded, and those reorders stay). So a
reorder can go where nothing after it depends on the order of a sample's values:
- pass 2 (edited_pieces(model, "outputs")): Lite0's 50 measured blobs go out only to be histogrammed;
  taken out still blocked, a run costs 10.6-10.7 ms instead of 15.1-16.0 (1 thread) and 10 MB less;
- pass 1 (edited_pieces(model, "probes")): each blob is flattened per sample and reduced to its min and max
  (calibrate.extrema_probe); reduced still blocked, a run costs 10.35-10.5 ms instead of
  11.3-11.5 (1 thread, the same min and max).

The edit works on the serialized ModelProto with a small protobuf wire-format reader (importing
the onnx package costs 0.75 s): graph nodes and outputs are the only messages rewritten; every
other field is copied byte for byte.
"""
import functools

from ncnnlike.errors import NcnnlikeError

NCHWC_DOMAIN = b"com.microsoft.nchwc"
MAX_BLOCK = 16                      # channel block of onnxruntime's NCHWc kernels (AVX512; 8 on AVX2)
FLOAT = 1                           # TensorProto.FLOAT
# field numbers of onnx.proto
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_OUTPUT = 1, 12
NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 1, 2, 4, 5, 7
ATTR_NAME, ATTR_INT, ATTR_INTS = 1, 3, 8
VALUE_NAME, VALUE_TYPE = 1, 2
TYPE_TENSOR, TENSOR_ELEM_TYPE = 1, 1


def _varint(buf, pos):
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise NcnnlikeError("onnxruntime's saved model: a truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def fields(buf):
    """(field number, wire type, value, start, end) of each field of a message: value is an int
    (varint, fixed) or a memoryview of the payload (length-delimited); [start, end) spans the field."""
    buf = memoryview(buf)
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise NcnnlikeError("onnxruntime's saved model: a field runs past its message")
            value, pos = buf[pos:pos + size], pos + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = int.from_bytes(buf[pos:pos + width], "little"), pos + width
        else:
            raise NcnnlikeError("onnxruntime's saved model: wire type %d is not used by ONNX" % wire)
        yield number, wire, value, start, pos


def _encode_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number, payload):
    """A length-delimited field."""
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + bytes(payload)


class _Node:
    """What the edits read of a NodeProto: op_type, domain, inputs, outputs, and its int and
    ints attributes ({name: int}, {name: [int]})."""

    def __init__(self, payload):
        self.op_type, self.domain, self.inputs, self.outputs, self.ints, self.lists = b"", b"", [], [], {}, {}
        for number, wire, value, _, _ in fields(payload):
            if wire != 2:
                continue
            if number == NODE_INPUT:
                self.inputs.append(bytes(value))
            elif number == NODE_OUTPUT:
                self.outputs.append(bytes(value))
            elif number == NODE_OP_TYPE:
                self.op_type = bytes(value)
            elif number == NODE_DOMAIN:
                self.domain = bytes(value)
            elif number == NODE_ATTRIBUTE:
                self._attribute(value)

    def _attribute(self, payload):
        name, single, many = None, None, []
        for number, wire, value, _, _ in fields(payload):
            if number == ATTR_NAME and wire == 2:
                name = bytes(value)
            elif number == ATTR_INT and wire == 0:
                single = _signed(value)
            elif number == ATTR_INTS and wire == 0:
                many.append(_signed(value))
            elif number == ATTR_INTS and wire == 2:          # packed
                pos = 0
                while pos < len(value):
                    item, pos = _varint(value, pos)
                    many.append(_signed(item))
        if name is not None and single is not None:
            self.ints[name] = single
        if name is not None and many:
            self.lists[name] = many

    def plain_reorder(self):
        """A ReorderOutput to NCHW of a blocked tensor without padded blocks."""
        return (self.op_type == b"ReorderOutput" and self.domain == NCHWC_DOMAIN and len(self.inputs) == 1
                and len(self.outputs) == 1 and self.ints.get(b"channels", 1) % MAX_BLOCK == 0
                and not self.ints.get(b"channels_last", 0))


def _signed(value):
    """A varint as the int64 protobuf stores in it."""
    return value - (1 << 64) if value >= 1 << 63 else value


class _Graph:
    """A GraphProto's nodes (with their spans in the payload), its output names and who consumes what."""

    def __init__(self, payload):
        self.nodes = [(start, _Node(value)) for number, wire, value, start, _ in fields(payload)
                      if number == GRAPH_NODE and wire == 2]
        self.outputs = {bytes(v) for number, wire, value, _, _ in fields(payload)
                        if number == GRAPH_OUTPUT and wire == 2 for n, w, v, _, _ in fields(value) if n == VALUE_NAME}
        self.consumers = {}
        for _, node in self.nodes:
            for name in node.inputs:
                self.consumers.setdefault(name, []).append(node)


def _output_edit(graph, keep=frozenset()):
    """(output renames, input renames, dropped node spans): each reorder that only feeds a graph
    output, other than those named in `keep`, goes; the output is then the blocked tensor."""
    renames, dropped, targets = {}, set(), set()
    for start, node in graph.nodes:
        out, source = node.outputs[0] if node.outputs else None, node.inputs[0] if node.inputs else None
        if (node.plain_reorder() and out in graph.outputs and out not in keep and out not in graph.consumers
                and source not in targets and source not in graph.outputs):
            renames[out] = source
            targets.add(source)
            dropped.add(start)
    return renames, {}, dropped


def _sample_reduction(node):
    """A ReduceMin or ReduceMax over axis 1 of (samples, values), or our Extrema or Histogram op
    (quant/probes.py): they do not see the order of a sample's values."""
    if node.op_type in (b"Extrema", b"Histogram") and node.domain == b"ncnnlike":
        return len(node.inputs) == 1
    return (node.op_type in (b"ReduceMin", b"ReduceMax") and node.domain == b"" and len(node.inputs) == 1
            and node.lists.get(b"axes") in ([1], [-1]))


def _probe_edit(graph):
    """(output renames, input renames, dropped node spans): each reorder whose only consumers are
    Flatten(axis=1) nodes, consumed only by per-sample reductions, goes; they read the blocked tensor."""
    renames, dropped = {}, set()
    for start, node in graph.nodes:
        if not node.plain_reorder() or node.outputs[0] in graph.outputs:
            continue
        users = graph.consumers.get(node.outputs[0], [])
        if users and all(user.op_type == b"Flatten" and user.domain == b"" and user.ints.get(b"axis", 1) == 1
                         and user.inputs == node.outputs and user.outputs[0] not in graph.outputs
                         and graph.consumers.get(user.outputs[0])
                         and all(_sample_reduction(r) for r in graph.consumers[user.outputs[0]]) for user in users):
            renames[node.outputs[0]] = node.inputs[0]
            dropped.add(start)
    return {}, renames, dropped


def _float_output(name):
    """A ValueInfoProto naming a float tensor of unstated shape."""
    tensor = _encode_varint(TENSOR_ELEM_TYPE << 3) + _encode_varint(FLOAT)     # elem_type, a varint field
    return _field(VALUE_NAME, name) + _field(VALUE_TYPE, _field(TYPE_TENSOR, tensor))


def _renamed_node(payload, renames):
    """A NodeProto with the inputs in `renames` renamed, every other field as it was."""
    out = []
    for number, wire, value, start, end in fields(payload):
        if number == NODE_INPUT and wire == 2 and bytes(value) in renames:
            out.append(_field(NODE_INPUT, renames[bytes(value)]))
        else:
            out.append(bytes(payload[start:end]))
    return b"".join(out)


def _edited_graph(payload, find):
    """(pieces of the GraphProto, reorders removed) with the edit `find` (_output_edit, _probe_edit)
    applied: every field that stays as it was is a slice of `payload`, not a copy (the initializers
    are most of the model)."""
    output_renames, input_renames, dropped = find(_Graph(payload))
    graph = []
    for number, wire, value, start, end in fields(payload):
        if number == GRAPH_NODE and start in dropped:
            continue
        if number == GRAPH_NODE and wire == 2 and input_renames:
            graph.append(_field(GRAPH_NODE, _renamed_node(value, input_renames)))
            continue
        if number == GRAPH_OUTPUT and wire == 2:
            name = next((bytes(x) for k, _, x, _, _ in fields(value) if k == VALUE_NAME), b"")
            if name in output_renames:
                graph.append(_field(GRAPH_OUTPUT, _float_output(output_renames[name])))
                continue
        graph.append(payload[start:end])
    return graph, len(dropped)


EDITS = {"outputs": _output_edit, "probes": _probe_edit}


def edited_pieces(model, kind, keep=()):
    """(pieces, reorders removed): the serialized ModelProto `model` (saved by onnxruntime) edited, as
    a list of bytes-like pieces to write one after the other; unchanged fields are slices of `model`.
    "outputs": every ReorderOutput that only feeds a graph output goes; that output is then the
    blocked tensor itself, under its name, in the same place among the graph's outputs, except the
    outputs named in `keep` (str), which stay in order. "probes":
    every ReorderOutput whose tensor is only flattened per sample and reduced to a min or max or
    binned (quant/probes.py) goes; the Flatten nodes read the blocked tensor, with the same results."""
    model = memoryview(model)
    find = EDITS[kind]
    if keep:
        find = functools.partial(find, keep=frozenset(name.encode() for name in keep))
    parts, found = [], 0
    for number, wire, value, start, end in fields(model):
        if number != MODEL_GRAPH or wire != 2:
            parts.append(model[start:end])
            continue
        graph, found = _edited_graph(value, find)
        parts.append(_encode_varint(MODEL_GRAPH << 3 | 2) + _encode_varint(sum(len(piece) for piece in graph)))
        parts.extend(graph)
    return parts, found
