"""onnxruntime's saved optimized model without the reorders that only feed its outputs.

onnxruntime computes convolutions in a blocked layout (NCHWc: channels in blocks of 8 or 16) and
adds a ReorderOutput node (domain com.microsoft.nchwc) wherever a blocked tensor leaves that
layout, among them every graph output. Calibration's pass 2 takes Lite0's 50 measured blobs out
only to histogram them, which does not depend on the order of a sample's values: taken out still
blocked, a run costs 10.6-10.7 ms instead of 15.1-16.0 (1 thread) and 10 MB less. A blocked
tensor whose channels are a multiple of 16 holds exactly the blob's values, each sample's
contiguous, in another order; with other channel counts the blocks are padded, and those
reorders stay.

The edit works on the serialized ModelProto with a small protobuf wire-format reader (importing
the onnx package costs 0.75 s): graph nodes and outputs are the only messages rewritten; every
other field is copied byte for byte.
"""
from ncnnlike.errors import NcnnlikeError

NCHWC_DOMAIN = b"com.microsoft.nchwc"
MAX_BLOCK = 16                      # channel block of onnxruntime's NCHWc kernels (AVX512; 8 on AVX2)
FLOAT = 1                           # TensorProto.FLOAT
# field numbers of onnx.proto
MODEL_GRAPH = 7
GRAPH_NODE, GRAPH_OUTPUT = 1, 12
NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE, NODE_ATTRIBUTE, NODE_DOMAIN = 1, 2, 4, 5, 7
ATTR_NAME, ATTR_INT = 1, 3
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


def _node(payload):
    """(op_type, domain, inputs, outputs, int attributes) of a NodeProto."""
    op_type, domain, inputs, outputs, ints = b"", b"", [], [], {}
    for number, wire, value, _, _ in fields(payload):
        if wire != 2 and number != NODE_ATTRIBUTE:
            continue
        if number == NODE_INPUT:
            inputs.append(bytes(value))
        elif number == NODE_OUTPUT:
            outputs.append(bytes(value))
        elif number == NODE_OP_TYPE:
            op_type = bytes(value)
        elif number == NODE_DOMAIN:
            domain = bytes(value)
        elif number == NODE_ATTRIBUTE:
            attribute = {n: v for n, w, v, _, _ in fields(value) if n in (ATTR_NAME, ATTR_INT)}
            if ATTR_NAME in attribute and ATTR_INT in attribute:
                ints[bytes(attribute[ATTR_NAME])] = attribute[ATTR_INT]
    return op_type, domain, inputs, outputs, ints


def _renames(graph):
    """{graph output name: blocked tensor name} for the reorders that can go, and their node spans."""
    nodes = [(start, end, _node(value)) for number, wire, value, start, end in fields(graph)
             if number == GRAPH_NODE and wire == 2]
    outputs = {bytes(v) for number, wire, value, _, _ in fields(graph) if number == GRAPH_OUTPUT and wire == 2
               for n, w, v, _, _ in fields(value) if n == VALUE_NAME}
    consumed = {name for _, _, node in nodes for name in node[2]}
    renames, dropped, targets = {}, set(), set()
    for start, end, (op_type, domain, inputs, outs, ints) in nodes:
        if (op_type == b"ReorderOutput" and domain == NCHWC_DOMAIN and len(inputs) == 1 and len(outs) == 1
                and outs[0] in outputs and outs[0] not in consumed and inputs[0] not in targets
                and inputs[0] not in outputs and ints.get(b"channels", 1) % MAX_BLOCK == 0
                and not ints.get(b"channels_last", 0)):
            renames[outs[0]] = inputs[0]
            targets.add(inputs[0])
            dropped.add(start)
    return renames, dropped


def _float_output(name):
    """A ValueInfoProto naming a float tensor of unstated shape."""
    tensor = _encode_varint(TENSOR_ELEM_TYPE << 3) + _encode_varint(FLOAT)     # elem_type, a varint field
    return _field(VALUE_NAME, name) + _field(VALUE_TYPE, _field(TYPE_TENSOR, tensor))


def without_output_reorders(model):
    """(model bytes, number of reorders removed): `model` (a serialized ModelProto saved by
    onnxruntime) with every ReorderOutput that only feeds a graph output removed; that output is
    then the blocked tensor itself, under its name, in the same place among the graph's outputs."""
    parts, found = [], 0
    for number, wire, value, start, end in fields(model):
        if number != MODEL_GRAPH or wire != 2:
            parts.append(bytes(memoryview(model)[start:end]))
            continue
        renames, dropped = _renames(value)
        found = len(renames)
        graph = []
        for n, w, v, s, e in fields(value):
            if n == GRAPH_NODE and s in dropped:
                continue
            if n == GRAPH_OUTPUT and w == 2:
                name = next((bytes(x) for k, _, x, _, _ in fields(v) if k == VALUE_NAME), b"")
                if name in renames:
                    graph.append(_field(GRAPH_OUTPUT, _float_output(renames[name])))
                    continue
            graph.append(bytes(value[s:e]))
        parts.append(_field(MODEL_GRAPH, b"".join(graph)))
    return b"".join(parts), found
