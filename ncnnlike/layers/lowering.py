"""LowerCtx: what a layer's `lower()` uses to emit ONNX nodes for the runtime.

Blob layout: an ncnn blob has no batch axis; its numpy shape is (w,), (h, w), (c, h, w) or
(c, d, h, w). The ONNX tensor for it has a leading batch axis: (N, *shape). `ctx.shape(blob)` is
the ncnn shape (no batch); a lowering must bind every top with its ncnn shape.

A blob's tensor is float32 unless bound with `quant=` (int8 values carried as uint8 q+128, zero
point 128, with the given scale): `ctx.bottom()` always gives a float tensor, dequantizing (here:
value cast, as ncnn extracts int8 blobs) when needed; `ctx.bottom_q()` gives the raw binding.
"""
from typing import NamedTuple

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_size

OPSET = 17
# onnx.TensorProto element types, for Cast's `to=` (onnx is imported only when nodes are built as onnx objects)
FLOAT, UINT8, INT8, INT32, INT64, BOOL, DOUBLE = 1, 2, 3, 6, 7, 9, 11


class Constant(NamedTuple):
    """An initializer as a "records" LowerCtx keeps it (array None in "shapes" mode)."""
    name: str
    array: object


class Node:
    """A node as a "records" or "shapes" LowerCtx keeps it (no onnx object): the fields of NodeProto."""
    __slots__ = ("op_type", "input", "output", "attrs", "domain", "name")

    def __init__(self, op_type, inputs, outputs, attrs, name):
        attrs = dict(attrs)
        self.domain = attrs.pop("domain", "")
        self.op_type, self.input, self.output, self.attrs, self.name = op_type, inputs, outputs, attrs, name


class LowerCtx:
    """Collects nodes and initializers while the runtime walks the graph in layer order."""

    def __init__(self, int8=True, build="onnx", threads=1):
        """`build`: "onnx" keeps onnx NodeProto / TensorProto objects (ctx.nodes, ctx.initializers);
        "records" keeps Node records and Constant(name, numpy array) pairs, which layers/onnx_bytes.py
        serializes without importing onnx; "shapes" walks the lowering for the blob shapes alone
        (shape inference, lowerability checks): Node records, constants not even kept."""
        if build not in ("onnx", "records", "shapes"):
            raise ValueError("LowerCtx build=%r" % (build,))
        self.int8 = int8
        self.build = build
        self.nodes = []
        self.initializers = []
        self._shapes = {}
        self._tensor = {}   # blob -> onnx tensor name
        self._quant = {}    # blob -> top scale when the tensor carries int8 as uint8 (+128)
        self._counter = 0
        self.nonnegative = frozenset()   # blobs provably >= 0 (runtime/nonnegative.py), for int8_fast
        self.value_infos = []   # (tensor, elem type, dims): shapes onnxruntime cannot infer (custom ops)
        self.uint8_clips = {}   # Clip output -> (its input, lo, hi): a uint8 clamp a consumer may fold in
        self.same_shape_adds = set()   # Add outputs of two operands of one shape (layers/pw_fuse.py)
        self.threads = threads  # the session's intra-op threads, which a kernel of ours may split among

    # --- names and constants -------------------------------------------------------------
    def fresh(self, hint):
        """A unique tensor name."""
        self._counter += 1
        return "%s__%d" % (hint, self._counter)

    def const(self, array, hint="const", dtype=None):
        """Add an initializer and return its name (float arrays default to float32)."""
        name = self.fresh(hint)
        if self.build == "shapes":
            self.initializers.append(Constant(name, None))
            return name
        arr = np.asarray(array)
        if dtype is not None:
            arr = arr.astype(dtype)
        elif arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        if self.build == "records":
            self.initializers.append(Constant(name, arr))
        else:
            from onnx import numpy_helper
            self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def ints(self, values, hint="shape"):
        """An int64 constant, the type ONNX wants for shapes, axes, pads."""
        return self.const(np.asarray(values, dtype=np.int64), hint)

    # --- nodes ---------------------------------------------------------------------------
    def op(self, op_type, inputs, n_out=1, name_hint=None, **attrs):
        """Emit one node; returns its output name (or list of names when n_out > 1)."""
        hint = name_hint or op_type
        outs = [self.fresh(hint) for _ in range(n_out)]
        if self.build != "onnx":
            self.nodes.append(Node(op_type, list(inputs), outs, attrs, self.fresh("n_" + hint)))
        else:
            from onnx import helper
            self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=self.fresh("n_" + hint), **attrs))
        return outs[0] if n_out == 1 else outs

    # --- blobs ---------------------------------------------------------------------------
    def bind(self, blob, tensor, shape, quant=None, owner=None):
        """Make `tensor` the value of ncnn blob `blob`, with ncnn shape `shape` (no batch); a shape
        with a negative size or over the MAX_BLOB_BYTES limit is an error (before anything runs)."""
        shape = tuple(int(s) for s in shape)
        what = "%sblob '%s'" % ("layer %s (%s): top " % (owner.name, owner.type) if owner is not None else "", blob)
        if any(s < 0 for s in shape):
            raise NcnnlikeError("%s would have the negative shape %s: check the layer's params" % (what, shape))
        check_size(what, shape, "MAX_BLOB_BYTES", 4, "bytes per sample")
        self._tensor[blob] = tensor
        self._shapes[blob] = shape
        if quant is None:
            self._quant.pop(blob, None)
        else:
            self._quant[blob] = quant

    def top(self, layer, i, tensor, shape, quant=None):
        """Bind the layer's i-th top."""
        self.bind(layer.tops[i], tensor, shape, quant, owner=layer)

    def shape(self, blob):
        if blob not in self._shapes:
            raise NcnnlikeError("blob '%s' is used before any layer produces it" % blob)
        return self._shapes[blob]

    def in_shape(self, layer, i=0):
        return self.shape(layer.bottoms[i])

    def is_quant(self, blob):
        return blob in self._quant

    def bottom_q(self, layer, i=0):
        """(tensor, quant) of the layer's i-th bottom: quant is None for float tensors."""
        blob = layer.bottoms[i]
        self.shape(blob)
        return self._tensor[blob], self._quant.get(blob)

    def bottom(self, layer, i=0):
        """The layer's i-th bottom as a float32 tensor."""
        return self.float_of(layer.bottoms[i])

    def float_of(self, blob):
        """Blob as float32; an int8-carrying blob is value-cast (q, not q/scale), like ncnn's extract."""
        self.shape(blob)
        tensor = self._tensor[blob]
        if blob not in self._quant:
            return tensor
        as_float = self.op("Cast", [tensor], to=FLOAT)
        return self.op("Sub", [as_float, self.const(np.float32(128.0))])

    def blobs(self):
        """Names of all blobs bound so far."""
        return list(self._shapes)

    def tensor(self, blob):
        return self._tensor[blob]
