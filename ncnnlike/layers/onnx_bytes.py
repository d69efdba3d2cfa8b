"""The serialized ONNX model the runtime hands to onnxruntime, written without the onnx package.

Building a session through onnx (helper.make_node, numpy_helper.from_array, SerializeToString)
costs its import (about a second on a loaded machine, 20 MB: ml_dtypes) and three copies of every
weight. Here the protobuf bytes are written directly from the lowering's records (LowerCtx with
build="records"), and weights of LARGE bytes or more are not written at all: they are marked as
external data and handed to onnxruntime as OrtValues over the numpy arrays themselves
(SessionOptions.add_external_initializers), so a session holds no copy of them but its own
prepacked forms. The fields are those of onnx/onnx.proto (proto2: repeated scalars unpacked).
Attribute values: int / bool, float, str / bytes, lists of those, and onnx's TensorProto /
GraphProto objects (a Scan body built with onnx.helper), embedded as their serialized bytes.
"""
import struct

import numpy as np

LARGE = 1024
EXTERNAL_LOCATION = "ncnnlike-memory"   # any name: onnxruntime looks the tensor up by its name

DTYPES = {np.dtype(np.float32): 1, np.dtype(np.uint8): 2, np.dtype(np.int8): 3, np.dtype(np.uint16): 4,
          np.dtype(np.int16): 5, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
          np.dtype(np.float16): 10, np.dtype(np.float64): 11, np.dtype(np.uint32): 12, np.dtype(np.uint64): 13}
ATTR_FLOAT, ATTR_INT, ATTR_STRING, ATTR_TENSOR, ATTR_GRAPH, ATTR_FLOATS, ATTR_INTS, ATTR_STRINGS = 1, 2, 3, 4, 5, 6, 7, 8


def _varint(value):
    value &= (1 << 64) - 1          # negative int64: two's complement, ten bytes
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def _int(field, value):
    return _key(field, 0) + _varint(int(value))


def _bytes(field, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _key(field, 2) + _varint(len(data)) + bytes(data)


def _float(field, value):
    return _key(field, 5) + struct.pack("<f", float(value))


def tensor(name, array, external=False):
    """TensorProto bytes: dims, data type, name, and raw data or an external-data reference."""
    array = np.asarray(array)
    if array.dtype not in DTYPES:
        raise TypeError("no ONNX type for numpy %s" % array.dtype)
    out = [_int(1, d) for d in array.shape] + [_int(2, DTYPES[array.dtype]), _bytes(8, name)]
    if external:
        out.append(_bytes(13, _bytes(1, "location") + _bytes(2, EXTERNAL_LOCATION)))    # external_data
        out.append(_int(14, 1))                                                        # data_location
    else:
        out.append(_bytes(9, np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()))
    return b"".join(out)


def _is_int(v):
    return isinstance(v, (bool, int, np.integer))


def attribute(name, value):
    """AttributeProto bytes, the type inferred as onnx.helper.make_attribute does."""
    head = _bytes(1, name)
    kind = type(value).__name__
    if hasattr(value, "SerializeToString") and kind in ("TensorProto", "GraphProto"):
        tensor_field = kind == "TensorProto"
        return head + _bytes(5 if tensor_field else 6, value.SerializeToString()) + \
            _int(20, ATTR_TENSOR if tensor_field else ATTR_GRAPH)
    if _is_int(value):
        return head + _int(3, value) + _int(20, ATTR_INT)
    if isinstance(value, (float, np.floating)):
        return head + _float(2, value) + _int(20, ATTR_FLOAT)
    if isinstance(value, (str, bytes)):
        return head + _bytes(4, value) + _int(20, ATTR_STRING)
    values = list(value.tolist() if isinstance(value, np.ndarray) else value)
    if values and all(isinstance(v, (str, bytes)) for v in values):
        return head + b"".join(_bytes(9, v) for v in values) + _int(20, ATTR_STRINGS)
    if all(_is_int(v) for v in values):
        return head + b"".join(_int(8, v) for v in values) + _int(20, ATTR_INTS)
    return head + b"".join(_float(7, v) for v in values) + _int(20, ATTR_FLOATS)


def node(record):
    """NodeProto bytes of a lowering record (op_type, input, output, attrs, domain, name)."""
    out = [_bytes(1, i) for i in record.input] + [_bytes(2, o) for o in record.output]
    out += [_bytes(3, record.name), _bytes(4, record.op_type)]
    out += [_bytes(5, attribute(k, v)) for k, v in sorted(record.attrs.items())]
    if record.domain:
        out.append(_bytes(7, record.domain))
    return b"".join(out)


def value_info(name, elem_type=None, dims=()):
    """ValueInfoProto bytes: a name, and a tensor type when elem_type is given (dims: int or str)."""
    if elem_type is None:
        return _bytes(1, name)
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(records, inputs, outputs, initializers, opsets, ir_version, name="ncnnlike", value_infos=()):
    """(ModelProto bytes, [(name, array)] of the external initializers). inputs: (name, elem_type,
    dims); outputs: names; initializers: (name, array); opsets: (domain, version); value_infos:
    (name, elem_type, dims) of inner tensors."""
    external, graph = [], [b"".join(_bytes(1, node(r)) for r in records), _bytes(2, name)]
    for init_name, array in initializers:
        big = np.asarray(array).nbytes >= LARGE
        if big:
            external.append((init_name, np.ascontiguousarray(array)))
        graph.append(_bytes(5, tensor(init_name, array, external=big)))
    graph += [_bytes(11, value_info(*i)) for i in inputs] + [_bytes(12, value_info(o)) for o in outputs]
    graph += [_bytes(13, value_info(*v)) for v in value_infos]
    body = _int(1, ir_version) + b"".join(_bytes(8, (_bytes(1, d) if d else b"") + _int(2, v)) for d, v in opsets)
    return body + _bytes(7, b"".join(graph)), external
