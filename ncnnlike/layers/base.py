"""What every layer module declares: its param schema and its weight buffers, plus the registry.

A layer module (ncnnlike/layers/<name>.py) defines:
  TYPE    the ncnn type name (or TYPES, a tuple, for a small family)
  PARAMS  a tuple of Param, in the order ncnn's ModelWriter writes them
  weights(p) -> list of WeightSpec in .bin order, from the resolved params `p`   (optional)
  lower(layer, p, ctx) -> None: emit ONNX nodes for the layer (see ncnnlike/layers/lowering.py)
and calls nothing itself. TYPE / TYPES must be a literal at the top level of the module: the
registry reads them from the source (registry_index.py) and imports a module only when its type is
first looked up, so that start-up costs nothing for the types a model does not use.
"""
from collections import namedtuple
from types import SimpleNamespace

from ncnnlike.errors import NcnnlikeError


# Immutable records as named tuples, not dataclasses: importing dataclasses (and the inspect, ast
# and tokenize it pulls in) costs ~9 ms of every console script's start-up (model-optimize's whole
# budget is ~100 ms).
class Link(namedtuple("Link", "id")):
    """A default that copies another param of the same layer (kernel_h defaults to kernel_w)."""
    __slots__ = ()


class Param(namedtuple("Param", "id name default", defaults=(0,))):
    """One param of a layer: id, python-side name, default (a value, a list, or a Link)."""
    __slots__ = ()


class WeightSpec(namedtuple("WeightSpec", "name count tagged", defaults=(True,))):
    """One .bin request: `count` elements, tagged (type 0) or raw float32 (type 1)."""
    __slots__ = ()


_REGISTRY = None


def registry():
    """ncnn type name -> layer module, a mapping that imports a module when its type is first looked up."""
    global _REGISTRY
    if _REGISTRY is None:
        from ncnnlike.layers.registry_index import LazyRegistry
        _REGISTRY = LazyRegistry()
    return _REGISTRY


def layer_module(type_name, where=""):
    """The module for an ncnn layer type, or a clear error."""
    module = registry().get(type_name)
    if module is None:
        raise NcnnlikeError("%sunknown or unsupported layer type '%s'" % (where + ": " if where else "", type_name))
    return module


def schema(type_name):
    """The Param tuple of a layer type."""
    return layer_module(type_name).PARAMS


def default_of(param, values):
    """The default of `param` given already-resolved values by id (links resolved)."""
    if isinstance(param.default, Link):
        return values[param.default.id]
    return list(param.default) if isinstance(param.default, list) else param.default


def resolve(layer):
    """All params of a layer with defaults filled in: a namespace by name (p.kernel_w) and by id (p[1])."""
    values = {}
    ns = SimpleNamespace()
    for param in schema(layer.type):
        if param.id in layer.params:
            value = layer.params[param.id]
        else:
            value = default_of(param, values)
        values[param.id] = value
        setattr(ns, param.name, value)
    ns.by_id = values
    return ns


def weight_specs(layer):
    """The layer's .bin requests in order (empty for layers without weights)."""
    module = layer_module(layer.type)
    fn = getattr(module, "weights", None)
    return fn(resolve(layer)) if fn else []


def explicit_params(layer):
    """(id, value) pairs the writer emits: schema order, defaults and equal links omitted,
    then any ids outside the schema kept verbatim; a module's `written_params(pairs)` then applies
    ModelWriter's forced flags (Softmax 1=1 exactly when axis != 0)."""
    out = []
    values = {}
    known = set()
    for param in schema(layer.type):
        known.add(param.id)
        default = default_of(param, values)
        value = layer.params.get(param.id, default)
        values[param.id] = value
        if param.id in layer.params and not _equal(value, default):
            out.append((param.id, value))
    for pid, value in layer.params.items():
        if pid not in known and pid != 30:
            out.append((pid, value))
    forced = getattr(layer_module(layer.type), "written_params", None)
    return forced(out) if forced else out


def _equal(a, b):
    """Same kind (int, float, str, list) and same value."""
    return type(a) is type(b) and a == b
