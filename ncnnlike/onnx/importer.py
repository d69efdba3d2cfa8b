"""ONNX -> ncnn Graph: the converter registry and ImportCtx, the converters' toolbox.

How a model is imported (`import_onnx`, driver.py):
  1. load; pin the graph input shapes given (shape=), fix the batch axis of every input to 1;
  2. onnx shape inference (data_prop=True) alternating with constant folding (fold.py): every
     tensor gets a static shape, every node computable from constants (Shape glue) is folded;
  3. decomposed layers (HardSwish, GELU, LayerNorm, attention ... chains) are fused back into one
     node each (fuse.py, fuse_norm.py, fuse_attention.py);
  4. every remaining node goes, in order, to the converter registered for its op type (a fused
     node of domain "ncnnlike" to the one registered as "ncnnlike.<op>");
  5. graph outputs keep their ONNX names; fan-out gets explicit Split layers (fanout.py).

The rule for converters: emit only ncnn constructs whose ncnn semantics equal ONNX's on the whole
input range (pip ncnn is the judge: its x86 pow of a base <= 0 is 2.4e38, so Pow never becomes
BinaryOp pow there; see ops_elementwise.py), or refuse in one line naming the node, the op and why.

Writing a converter (one module per family, ncnnlike/onnx/ops_<family>.py, imported automatically):

    from ncnnlike.onnx.importer import converter

    @converter("Relu", "LeakyRelu")        # one or more ONNX op types
    def relu(ctx, node):                   # node: onnx.NodeProto; ctx: ImportCtx
        a = ctx.attrs(node)                # attribute name -> python value
        x = ctx.blob(node.input[0])        # ncnn blob name of an input (MemoryData for a constant)
        ctx.add("ReLU", [x], [node.output[0]], {0: a.get("alpha", 0.0)})

Shapes: `ctx.shape(t)` is the static ONNX shape (batch = 1). A dynamic tensor's ncnn shape is its
ONNX shape without the batch axis (axis 0 unless `ctx.set_batch_axis` moved it); ONNX axis a maps
to ncnn axis `ctx.axis(t, a)` (numpy order (c, h, w)). A blob may really hold another shape of the
same size (ncnn global pooling yields (C,) for ONNX [1, C, 1, 1]): `ctx.blob(t)` inserts a Reshape
to the ONNX-derived shape when they differ; `ctx.actual(t)` returns (blob, shape) as it is.
Constants: `ctx.const(t)` is a numpy array or None; `ctx.const_input(node, i)` requires one.
Params are set by id; their int/float types are coerced to the layer schema's default types.
Weights are given in .bin order as a list of arrays and named from the layer module's weights(p).
"""
import importlib
import pkgutil
import re

import numpy as np
import onnx
from onnx import helper

from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Layer
from ncnnlike.layers.base import registry, schema, weight_specs
from ncnnlike.paramdict import ParamDict

_CONVERTERS = {}
_MAX_NAME = 255
FUSED = "ncnnlike"      # domain of the nodes fuse.py makes from decomposed patterns


def converter(*op_types):
    """Decorator: register `fn(ctx, node)` as the converter of these ONNX op types."""
    def register(fn):
        for op_type in op_types:
            if op_type in _CONVERTERS:
                raise ValueError("two converters for ONNX op %s" % op_type)
            _CONVERTERS[op_type] = fn
        return fn
    return register


def converters():
    """ONNX op type -> converter, importing every ncnnlike/onnx/ops_*.py module on first use."""
    import ncnnlike.onnx as pkg
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("ops_"):
            importlib.import_module("ncnnlike.onnx." + info.name)    # cached after the first call
    return _CONVERTERS


def sanitize(name, fallback):
    """A name ncnn's %255s reads back: no whitespace, at most 255 characters, not empty."""
    name = re.sub(r"\s+", "_", name or "")
    return (name or fallback)[:_MAX_NAME]


def _typed(type_name, params):
    """ParamDict with python int/float types matching the schema defaults (spec 1.2: no coercion)."""
    defaults = {p.id: p.default for p in schema(type_name)}
    out = ParamDict()
    for pid, value in params.items():
        default = defaults.get(pid)
        if isinstance(value, (list, tuple, np.ndarray)):
            value = [v.item() if isinstance(v, np.generic) else v for v in np.asarray(value).ravel().tolist()]
        elif isinstance(value, str):
            pass
        elif isinstance(default, float):
            value = float(value)
        elif isinstance(default, int) or isinstance(value, (bool, np.integer, np.bool_)):
            value = int(value)
        elif isinstance(value, np.floating):
            value = float(value)
        out[pid] = value
    return out


def shape_params(shape):
    """Reshape / MemoryData / Input dims params for an ncnn shape (numpy order): 0=w 1=h 11=d 2=c."""
    shape = tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 4:
        raise ValueError("ncnn blobs have 1 to 4 dims, not shape %s" % (shape,))
    ids = {1: (0,), 2: (1, 0), 3: (2, 1, 0), 4: (2, 11, 1, 0)}[len(shape)]
    return dict(zip(ids, shape))


def _const_shape(const):
    """Default ncnn shape of a constant used as a blob: a leading 1 is taken as the batch axis."""
    shape = const.shape[1:] if const.ndim >= 2 and const.shape[0] == 1 else const.shape
    return tuple(int(s) for s in shape) or (1,)


class ImportCtx:
    """State of one import: known shapes and constants, blobs made so far, the layers list."""

    def __init__(self, where, shapes, consts):
        self.where = where
        self.layers = []
        self.node = None
        self.opset = 0                 # default-domain opset of the model
        self.elem_types = {}           # onnx tensor -> TensorProto element type, where known
        self._shapes = shapes          # onnx tensor -> static shape (batch 1)
        self._consts = consts          # onnx tensor -> numpy array
        self._blobs = {}               # onnx tensor (or temp name) -> (ncnn blob, actual ncnn shape)
        self._batch_axis = {}
        self._cache = {}               # (tensor, shape) -> blob reshaped / materialized
        self._layer_names = set()
        self._blob_names = set()
        self._counter = 0

    # --- messages and attributes ---------------------------------------------------------
    def fail(self, message, node=None):
        """Raise the one-line error naming the model and the node being converted."""
        node = node or self.node
        if node is None:
            raise NcnnlikeError("%s: %s" % (self.where, message))
        raise NcnnlikeError("%s: node '%s' (%s): %s" % (self.where, node.name, node.op_type, message))

    @staticmethod
    def attrs(node):
        """Attribute name -> python value (ints, floats, strings as str, lists, tensors as arrays)."""
        out = {}
        for attr in node.attribute:
            value = helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, onnx.TensorProto):
                value = onnx.numpy_helper.to_array(value)
            elif isinstance(value, list) and value and isinstance(value[0], bytes):
                value = [v.decode("utf-8", "replace") for v in value]
            out[attr.name] = value
        return out

    # --- shapes and constants ------------------------------------------------------------
    def const(self, name):
        """The constant value of tensor `name`, or None if it is computed at run time."""
        return self._consts.get(name) if name else None

    def const_input(self, node, i, default=None):
        """Input i as a numpy constant; `default` when the optional input is absent; error if dynamic."""
        if len(node.input) <= i or not node.input[i]:
            if default is None:
                self.fail("input %d is missing" % i, node)
            return np.asarray(default)
        value = self.const(node.input[i])
        if value is None:
            self.fail("input %d ('%s') must be a constant" % (i, node.input[i]), node)
        return value

    def new_const(self, hint, value):
        """A new constant tensor (a MemoryData blob when used) holding `value`; returns its name."""
        name = self.fresh(hint)
        self._consts[name] = np.asarray(value)
        return name

    def has_input(self, node, i):
        return len(node.input) > i and bool(node.input[i])

    def shape(self, name):
        """The static ONNX shape of a tensor (batch fixed to 1)."""
        if name in self._consts:
            return tuple(self._consts[name].shape)
        if name not in self._shapes:
            self.fail("shape of tensor '%s' is unknown after shape inference" % name)
        return self._shapes[name]

    def same_shape(self, out, inp):
        """Tensor `out` has tensor `inp`'s ONNX shape (for ops onnx shape inference leaves unknown,
        e.g. the function op GroupNormalization)."""
        if out not in self._shapes:
            self._shapes[out] = tuple(self.shape(inp))

    def rank(self, name):
        return len(self.shape(name))

    def batch_axis(self, name):
        """The ONNX axis holding the batch (size 1), or None when the tensor has none (a Squeeze
        removed it): since the batch is 1, dropping any size-1 axis keeps the data layout."""
        return self._batch_axis.get(name, 0)

    def set_batch_axis(self, name, axis):
        """Declare that `name` carries the batch on ONNX axis `axis` (e.g. LSTM's [T, 1, F]), or None."""
        self._batch_axis[name] = axis

    def inherit_batch_axis(self, node):
        """Outputs of the rank of the node's first computed input take its batch axis (elementwise
        ops keep layouts); converters that change layouts set it themselves."""
        x = next((n for n in node.input if n and self.const(n) is None and n in self._shapes), None)
        b = None if x is None else self.batch_axis(x)
        if x is None or b == 0:
            return
        for out in node.output:
            shape = self._shapes.get(out)
            if shape is not None and len(shape) == self.rank(x) and (b is None or shape[b] == 1):
                self._batch_axis[out] = b

    def ncnn_shape(self, name):
        """ncnn shape (numpy order, no batch) that ONNX tensor `name` maps to."""
        if name not in self._shapes and name in self._blobs:
            return self._blobs[name][1]
        shape = tuple(self.shape(name))
        b = self.batch_axis(name)
        if shape in ((), (1,)):      # a full reduction: ncnn holds one value
            return (1,)
        if b is None:
            if len(shape) > 4:
                self.fail("tensor '%s' has rank %d; ncnn blobs have at most 4 dims" % (name, len(shape)))
            return shape
        if len(shape) < 2 or shape[b] != 1:
            self.fail("tensor '%s' of shape %s has no batch axis of size 1 at axis %d" % (name, list(shape), b))
        if len(shape) > 5:
            self.fail("tensor '%s' has rank %d; ncnn blobs have at most 4 dims plus batch" % (name, len(shape)))
        return shape[:b] + shape[b + 1:]

    def axis(self, name, a):
        """ncnn axis (numpy order, no batch) of ONNX axis `a` of tensor `name`; the batch axis is an error."""
        r = self.rank(name)
        a = a + r if a < 0 else a
        b = self.batch_axis(name)
        if not 0 <= a < r or a == b:
            self.fail("axis %d of tensor '%s' is the batch axis or out of range; ncnn has no batch" % (a, name))
        return a - 1 if b is not None and a > b else a

    def operand_shape(self, name, like):
        """ncnn shape of tensor `name` used next to tensor `like` (broadcasting, Concat of a
        constant): right-aligned to like's ONNX rank, then like's batch axis (size 1) dropped."""
        shape = self.shape(name)
        r = self.rank(like)
        padded = (1,) * (r - len(shape)) + tuple(shape)
        b = self.batch_axis(like)
        if b is None:
            return padded
        if len(padded) > r or padded[b] != 1:
            self.fail("tensor '%s' of shape %s varies along the batch axis" % (name, list(shape)))
        return padded[:b] + padded[b + 1:]

    # --- blobs ---------------------------------------------------------------------------
    def fresh(self, hint, onnx_shape=None):
        """A new internal tensor name (for blobs between the layers of one converter), optionally
        with the ONNX shape (batch included) it stands for."""
        self._counter += 1
        name = "%s_ncnn%d" % (sanitize(hint, "t")[:200], self._counter)
        if onnx_shape is not None:
            self._shapes[name] = tuple(int(s) for s in onnx_shape)
        return name

    def _blob_name(self, tensor):
        name = sanitize(tensor, "blob")
        base, k = name, 0
        while name in self._blob_names:
            k += 1
            name = "%s_%d" % (base[:240], k)
        self._blob_names.add(name)
        return name

    def actual(self, name):
        """(ncnn blob, actual ncnn shape) of a tensor, as produced (a constant: its MemoryData)."""
        if name not in self._blobs:
            const = self.const(name)
            if const is None:
                self.fail("tensor '%s' is used before it is produced" % name)
            shape = _const_shape(const)
            return self.blob(name, shape), shape
        return self._blobs[name]

    def blob(self, name, shape=None):
        """ncnn blob of tensor `name` holding ncnn shape `shape` (default: the ONNX-derived shape).

        A constant becomes a MemoryData layer; a blob whose actual shape differs gets a Reshape."""
        const = self.const(name)
        if const is not None and name not in self._blobs:
            shape = _const_shape(const) if shape is None else tuple(int(s) for s in shape) or (1,)
            key = (name, shape)
            if key not in self._cache:
                top = self.fresh(name)
                self.add("MemoryData", [], [top], shape_params(shape), [const.astype(np.float32).reshape(shape)],
                         shapes=[shape], name="memorydata_" + sanitize(name, "const"))
                self._cache[key] = self._blobs[top][0]
            return self._cache[key]
        blob, actual = self.actual(name)
        want = tuple(int(s) for s in (self.ncnn_shape(name) if shape is None else shape))
        if want == tuple(actual):
            return blob
        if int(np.prod(want)) != int(np.prod(actual)):
            self.fail("cannot view tensor '%s' of ncnn shape %s as %s" % (name, list(actual), list(want)))
        key = (name, want)
        if key not in self._cache:
            top = self.fresh(name + "_reshape")
            self.add("Reshape", [blob], [top], shape_params(want), shapes=[want], name=top)
            self._cache[key] = self._blobs[top][0]
        return self._cache[key]

    def bind(self, tensor, blob, shape):
        """Tensor `tensor` is ncnn blob `blob` of actual ncnn shape `shape` (made earlier)."""
        self._blobs[tensor] = (blob, tuple(int(s) for s in shape))

    def alias(self, out, inp):
        """Tensor `out` is tensor `inp` (Identity, Dropout): no layer."""
        if self.const(inp) is not None and inp not in self._blobs:
            self._consts[out] = self._consts[inp]
            return
        self._blobs[out] = self._blobs[inp]
        if inp in self._batch_axis:
            self._batch_axis[out] = self._batch_axis[inp]

    def rename_blob(self, blob, name):
        """Rename ncnn blob `blob` to `name` everywhere (a graph output keeps its ONNX name)."""
        if name in self._blob_names:
            self.fail("blob '%s' cannot take the name '%s': another blob has it" % (blob, name))
        self._blob_names.add(name)
        for layer in self.layers:
            layer.bottoms = [name if b == blob else b for b in layer.bottoms]
            layer.tops = [name if t == blob else t for t in layer.tops]
        for key, (b, shape) in list(self._blobs.items()):
            if b == blob:
                self._blobs[key] = (name, shape)

    # --- layers --------------------------------------------------------------------------
    def _layer_name(self, name, type_name):
        name = sanitize(name, "")
        if not name or name in self._layer_names:
            base = name or type_name.lower()
            k = len(self.layers)
            name = "%s_%d" % (base[:240], k)
            while name in self._layer_names:
                k += 1
                name = "%s_%d" % (base[:240], k)
        self._layer_names.add(name)
        return name

    def add(self, type_name, bottoms, tops, params=None, weights=(), shapes=None, name=None):
        """Append an ncnn layer. bottoms: ncnn blob names (from ctx.blob); tops: ONNX (or fresh)
        tensor names; params: {id: value}; weights: arrays in .bin order; shapes: actual ncnn shapes
        of the tops (default: from the ONNX shapes). Returns the Layer."""
        if type_name not in registry():
            self.fail("unsupported ONNX op: ncnnlike has no ncnn layer '%s' for it" % type_name)
        if name is None:
            name = self.node.name if self.node is not None else ""
        layer = Layer(type_name, self._layer_name(name, type_name), list(bottoms), [],
                      _typed(type_name, params or {}))
        for i, top in enumerate(tops):
            shape = tuple(int(s) for s in (shapes[i] if shapes is not None else self.ncnn_shape(top)))
            blob = self._blob_name(top)
            layer.tops.append(blob)
            self._blobs[top] = (blob, shape)
        specs = weight_specs(layer)
        weights = list(weights)
        if len(specs) != len(weights):
            self.fail("internal: layer %s (%s) wants %d weight buffers, converter gave %d"
                      % (layer.name, type_name, len(specs), len(weights)))
        for spec, array in zip(specs, weights):
            array = np.ascontiguousarray(array, dtype=np.float32).ravel()
            if array.size != spec.count:
                self.fail("internal: layer %s weight %s has %d values, expected %d"
                          % (layer.name, spec.name, array.size, spec.count))
            layer.weights[spec.name] = array
        self.layers.append(layer)
        return layer


def import_onnx(path_or_model, where=None, shapes=None):
    """Convert an ONNX model (path or ModelProto) to an ncnn Graph (driver.py)."""
    from ncnnlike.onnx.driver import import_onnx as run
    return run(path_or_model, where, shapes)


def convert(onnx_path, param_path, bin_path, shapes=None):
    """onnx2model: import and write the .param/.bin pair (driver.py)."""
    from ncnnlike.onnx.driver import convert as run
    return run(onnx_path, param_path, bin_path, shapes)
