"""The layer registry reads each module's TYPE from its source and imports a module only when its
type is looked up (start-up: onnx and other heavy imports stay out of the console scripts)."""
import os
import subprocess
import sys

import pytest

from helpers import REPO
from ncnnlike.layers import registry_index
from ncnnlike.layers.registry_index import (LazyRegistry, build_index, declared_types, imported_types, module_names,
                                            own_module)


def test_index_equals_what_importing_every_module_declares():
    """Every module of the folder, present and future: the source index and the imports agree."""
    imported = {}
    for name in module_names():
        for type_name in imported_types(name):
            imported[type_name] = name
    assert build_index() == imported
    assert len(imported) >= 100


def test_no_two_modules_declare_a_type_so_the_fast_lookup_agrees_with_the_index():
    """A lookup tries the module named after the type first (own_module); with every type declared
    once, that is the module the whole folder's index names."""
    declared = [t for name in module_names() for t in (declared_types(open_source(name)) or imported_types(name))]
    assert len(declared) == len(set(declared))
    index = build_index()
    for type_name, name in index.items():
        assert own_module(type_name) in (None, name)
    assert own_module("Convolution") == "convolution" and own_module("convolution") is None
    assert own_module("../base") is None and own_module("Base") is None and own_module("__init__") is None
    registry = LazyRegistry()
    assert registry["Convolution"].TYPE == "Convolution" and registry.get("NoSuchLayer") is None
    assert len(registry) == len(index)


def open_source(name):
    with open(os.path.join(registry_index.FOLDER, name + ".py"), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("source,expected", [
    ('"""doc"""\nTYPE = "Convolution"\n', ("Convolution",)),
    ("TYPE = 'ReLU'  # ncnn's name\n", ("ReLU",)),
    ('TYPES = ("Sigmoid",\n         "Swish")\n', ("Sigmoid", "Swish")),
    ("import numpy\n\ndef lower(layer, p, ctx):\n    TYPE = 'local'\n", ()),
    ('"""helper module"""\n', ()),
    ("TYPE = NAME\n", None),
    ("TYPES = tuple(names())\n", None),
])
def test_declared_types_reads_literals_and_gives_up_on_anything_else(source, expected):
    assert declared_types(source) == expected


def test_a_module_is_imported_only_when_its_type_is_looked_up():
    code = ("import sys\nfrom ncnnlike.layers.base import registry, layer_module\n"
            "r = registry()\nassert 'Pooling' in r and 'ncnnlike.layers.pooling' not in sys.modules\n"
            "layer_module('Pooling')\nassert 'ncnnlike.layers.pooling' in sys.modules\n"
            "assert 'ncnnlike.layers.gridsample' not in sys.modules and 'onnx' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-1000:]


def test_lazy_registry_is_a_mapping_of_modules():
    r = LazyRegistry({"ReLU": "relu"})
    assert list(r) == ["ReLU"] and len(r) == 1 and "ReLU" in r and "Nope" not in r
    assert r["ReLU"].TYPE == "ReLU" and r.get("Nope") is None
    assert registry_index.PACKAGE == "ncnnlike.layers"


def test_a_lookup_by_type_reads_only_that_type_s_source():
    """The registry's first use reads the source of the type looked up, not the whole folder's
    (the whole index is ~140 files, ~7 ms of every console script's start-up): it was built on the
    first call because `if not registry` asked the mapping its len()."""
    code = ("from ncnnlike.layers import base, registry_index\n"
            "def refuse():\n    raise AssertionError('the whole index was built')\n"
            "registry_index.build_index = refuse\n"
            "assert base.layer_module('Convolution').TYPE == 'Convolution'\n"
            "assert base.registry() is base.registry()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-1000:]
