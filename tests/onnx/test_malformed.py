"""Malformed ONNX never gives a traceback: every mutation of small valid models either imports or
raises NcnnlikeError with one line (seeded, a few hundred mutants in a couple of seconds)."""
import numpy as np
import onnx
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.onnx import import_onnx
from onnxcase import make, node, rand

I64 = np.int64


def seeds():
    """Small valid models touching the converters that read attributes and constant inputs."""
    return [
        make([node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), node("Gather", ["c", "i"], ["g"], axis=1),
              node("Slice", ["g", "s", "e", "a", "t"], ["y"])], {"x": [1, 3, 8, 8]}, ["y"],
             {"w": rand(4, 3, 3, 3), "i": np.array([0, 2], I64), "s": np.array([0], I64), "e": np.array([8], I64),
              "a": np.array([2], I64), "t": np.array([2], I64)}),
        make([node("Add", ["x", "three"], ["a"]), node("Clip", ["a", "zero", "six"], ["c"]), node("Mul", ["x", "c"], ["m"]),
              node("Div", ["m", "six"], ["h"]), node("Pad", ["h", "p"], ["q"], mode="reflect"),
              node("Resize", ["q", "", "sc"], ["y"], mode="linear")], {"x": [1, 2, 4, 4]}, ["y"],
             {"three": np.float32(3), "zero": np.float32(0), "six": np.float32(6),
              "p": np.array([0, 0, 1, 1, 0, 0, 1, 1], I64), "sc": np.array([1, 1, 2, 2], np.float32)}),
        make([node("Einsum", ["a", "b"], ["e"], equation="bij,bjk->bik"), node("Pow", ["e", "two"], ["p"]),
              node("Expand", ["p", "sh"], ["y"])], {"a": [1, 3, 4], "b": [1, 4, 5]}, ["y"],
             {"two": np.float32(2), "sh": np.array([1, 3, 5], I64)}),
    ]


def mutants(model, rng, count):
    """Copies with one thing broken: an attribute value, an input name, a constant's values/shape."""
    for _ in range(count):
        m = onnx.ModelProto.FromString(model.SerializeToString())
        n = m.graph.node[rng.integers(len(m.graph.node))]
        kind = rng.integers(5)
        if kind == 0 and n.attribute:
            a = n.attribute[rng.integers(len(n.attribute))]
            if a.ints:
                a.ints[rng.integers(len(a.ints))] = int(rng.integers(-5, 9))
            elif a.type == onnx.AttributeProto.INT:
                a.i = int(rng.integers(-5, 9))
            elif a.type == onnx.AttributeProto.STRING:
                a.s = b"bogus"
            else:
                n.attribute.remove(a)
        elif kind == 1 and n.input:
            n.input[rng.integers(len(n.input))] = ["", "nowhere", n.output[0]][rng.integers(3)]
        elif kind == 2 and m.graph.initializer:
            t = m.graph.initializer[rng.integers(len(m.graph.initializer))]
            v = onnx.numpy_helper.to_array(t)
            v = (v.ravel()[: max(1, v.size - 1)] if rng.integers(2) else v.ravel() * 0 - 7).astype(v.dtype)
            t.CopyFrom(onnx.numpy_helper.from_array(v, t.name))
        elif kind == 3:
            del n.input[len(n.input) - 1:]
        else:
            n.op_type = ["Relu", "Gather", "Slice", "Clip", "Resize"][rng.integers(5)]
        yield m


@pytest.mark.parametrize("k", range(3))
def test_mutated_models_import_or_fail_in_one_line(k):
    rng = np.random.default_rng(k)
    outcomes = {"ok": 0, "refused": 0}
    for m in mutants(seeds()[k], rng, 50):
        try:
            import_onnx(m, where="m.onnx")
            outcomes["ok"] += 1
        except NcnnlikeError as exc:
            assert str(exc).startswith("m.onnx: ") and "\n" not in str(exc), str(exc)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 10


def test_node_without_required_attribute_names_node_and_op():
    m = make([node("Concat", ["x", "x"], ["y"])], {"x": [1, 3]}, ["y"])
    del m.graph.node[0].attribute[:]
    with pytest.raises(NcnnlikeError, match=r"^m.onnx: "):
        import_onnx(m, where="m.onnx")


def test_bad_attribute_value_names_the_attribute():
    m = make([node("Resize", ["x", "", "s"], ["y"], mode="bogus")], {"x": [1, 2, 3, 3]}, ["y"],
             {"s": np.array([1, 1, 2, 2], np.float32)})
    with pytest.raises(NcnnlikeError, match=r"node 'y_node' \(Resize\): .*mode 'bogus'"):
        import_onnx(m, where="m.onnx")
    m = make([node("Pad", ["x", "p"], ["y"], mode="mirror")], {"x": [1, 2, 3, 3]}, ["y"],
             {"p": np.zeros(8, I64)})
    with pytest.raises(NcnnlikeError, match=r"node 'y_node' \(Pad\): Pad mode 'mirror'"):
        import_onnx(m, where="m.onnx")
