"""onnx2model on malformed ONNX models: one error line and exit 2, never a traceback (issue 15's
classes: attributes missing or of the wrong length, graph cycles, Gemm shape mismatch)."""
import os

import onnx
import pytest
from onnx import helper

from helpers import REFERENCE
from ncnnlike.cli.onnx2model import main

TINY_ONNX = os.path.join(REFERENCE, "tiny", "tiny.onnx")


def edited(tmp_path, edit):
    model = onnx.load(TINY_ONNX)
    edit(model.graph)
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def node(graph, op_type):
    return next(n for n in graph.node if n.op_type == op_type)


def drop_attribute(op_type, name):
    def edit(graph):
        n = node(graph, op_type)
        for attr in list(n.attribute):
            if attr.name == name:
                n.attribute.remove(attr)
    return edit


def set_attribute(op_type, name, value):
    def edit(graph):
        n = node(graph, op_type)
        for attr in list(n.attribute):
            if attr.name == name:
                n.attribute.remove(attr)
        n.attribute.append(helper.make_attribute(name, value))
    return edit


def cycle(graph):
    """The first Conv reads the last node's output: a cycle."""
    graph.node[0].input[0] = graph.node[-1].output[0]


def gemm_mismatch(graph):
    init = next(i for i in graph.initializer if i.name == node(graph, "Gemm").input[1])
    init.dims[:] = [init.dims[0], init.dims[1] - 1]
    init.raw_data = init.raw_data[:init.dims[0] * init.dims[1] * 4] if init.raw_data else init.raw_data
    if init.float_data:
        del init.float_data[init.dims[0] * init.dims[1]:]


CASES = {
    "conv pads of two values": set_attribute("Conv", "pads", [1, 1]),
    "conv strides of zero": set_attribute("Conv", "strides", [0, 0]),
    "maxpool without kernel_shape": drop_attribute("MaxPool", "kernel_shape"),
    "flatten axis out of range": set_attribute("Flatten", "axis", 9),
    "graph cycle": cycle,
    "gemm shape mismatch": gemm_mismatch,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_malformed_model_is_one_error_line(tmp_path, capsys, name):
    path = edited(tmp_path, CASES[name])
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    code = main([path, *out])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "internal error" not in err, err
    assert not any(os.path.exists(p) for p in out)
