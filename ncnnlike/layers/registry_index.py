"""The layer registry's index: ncnn type name -> module of ncnnlike/layers, read from the sources.

Importing every layer module to learn its TYPE would import everything each of them imports (onnx
alone costs about a second of start-up, mostly ml_dtypes), for every console script and every
model. Instead each module's `TYPE = "Name"` (or `TYPES = ("A", "B")`) line is read from its
source text, and a module is imported only when its type is first looked up. This holds for every
module in the folder, present and future, as long as TYPE / TYPES is a literal at the top level
(base.py); a module whose TYPE / TYPES assignment is not a literal is imported to read it.

Reading all ~140 sources costs a few ms of every start-up, so a lookup first tries the module named
after the type (Convolution -> convolution.py, true of every type today) and reads the whole folder
only when that module does not declare the type, or for `in`, iteration and len. The two agree
because no two modules declare the same type (tests/layers/test_registry_index.py).
"""
import importlib
import os
import re
import threading
from collections.abc import Mapping

PACKAGE = "ncnnlike.layers"
FOLDER = os.path.dirname(os.path.abspath(__file__))
ASSIGNMENT = re.compile(r"^(TYPES?)[ \t]*=[ \t]*", re.M)
STRING = re.compile(r"""\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)')[ \t]*(?:#[^\n]*)?$""", re.M)
TUPLE = re.compile(r"\s*(\([^()]*\))", re.S)


def module_names():
    """Names of the python modules of the layers folder, sorted (as pkgutil lists them)."""
    names = []
    for entry in os.listdir(FOLDER):
        stem, ext = os.path.splitext(entry)
        if ext == ".py" and stem.isidentifier() and stem != "__init__":
            names.append(stem)
    return sorted(names)


def declared_types(source):
    """The type names a module's source declares: a tuple of names, () when the module declares none
    (a helper such as int8.py), or None when an assignment is there but is no literal."""
    found = []
    for match in ASSIGNMENT.finditer(source):
        rest = source[match.end():]
        if match.group(1) == "TYPE":
            literal = STRING.match(rest)
            if literal is None:
                return None
            found.append(literal.group(1) if literal.group(1) is not None else literal.group(2))
        else:
            import ast
            literal = TUPLE.match(rest)
            try:
                names = ast.literal_eval(literal.group(1)) if literal else None
            except (ValueError, SyntaxError):
                names = None
            if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
                return None
            found.extend(names)
    return tuple(found)


def _source_types(name):
    """declared_types of module `name`'s source, None when it is not a module of the folder."""
    try:
        with open(os.path.join(FOLDER, name + ".py"), encoding="utf-8") as f:
            return declared_types(f.read())
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def own_module(type_name):
    """The module named after `type_name` (its lower-case name) when it declares that type, else None."""
    name = type_name.lower()
    if not name.isidentifier() or name == "__init__":
        return None
    types = _source_types(name)
    return name if types and type_name in types else None


def imported_types(name):
    """The type names of a module, by importing it (TYPES, or TYPE)."""
    module = importlib.import_module(PACKAGE + "." + name)
    return tuple(t for t in getattr(module, "TYPES", (getattr(module, "TYPE", None),)) if t)


def build_index():
    """ncnn type name -> module name for every module of the folder (a later module wins a clash,
    as when the registry imported them all in this order)."""
    index = {}
    for name in module_names():
        with open(os.path.join(FOLDER, name + ".py"), encoding="utf-8") as f:
            types = declared_types(f.read())
        if types is None:
            types = imported_types(name)
        for type_name in types:
            index[type_name] = name
    return index


class LazyRegistry(Mapping):
    """ncnn type name -> layer module; the module is imported on the first lookup of one of its types."""

    def __init__(self, index=None):
        self._given = index is not None
        self._index = dict(index) if self._given else None   # the whole folder's, read when needed
        self._modules = {}
        self._lock = threading.Lock()

    def _full_index(self):
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = build_index()
        return self._index

    def module_name(self, type_name):
        """The module name of `type_name`; KeyError for a type no module declares."""
        if not self._given:
            name = own_module(type_name)
            if name is not None:
                return name
        return self._full_index()[type_name]

    def __getitem__(self, type_name):
        module = self._modules.get(type_name)
        if module is None:
            name = self.module_name(type_name)
            with self._lock:
                module = self._modules[type_name] = importlib.import_module(PACKAGE + "." + name)
        return module

    def __contains__(self, type_name):
        return type_name in self._full_index()

    def __iter__(self):
        return iter(self._full_index())

    def __len__(self):
        return len(self._full_index())
