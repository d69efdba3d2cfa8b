"""Constructs whose ncnn semantics differ from ONNX's are never emitted: Pow by a constant becomes
UnaryOp square / sqrt / rsqrt / reciprocal and products (ncnn's x86 pow is 2.4e38 for a base <= 0),
Softplus never overflows, Where / Clip / PRelu variants. Inputs include negatives and exact zeros;
ours and pip ncnn are both compared with onnxruntime."""
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.onnx import import_onnx
from onnxcase import check, make, node, rand, types

EDGES = np.array([-3.0, -1.0, -0.5, -0.0, 0.0, 0.25, 1.0, 2.5, 90.0, -90.0, 1e-3, -1e-3], np.float32)


def edge_feed(shape):
    x = rand(*shape)
    x.ravel()[:EDGES.size] = EDGES
    return x


@pytest.mark.parametrize("p, layers", [
    (2.0, ["UnaryOp"]), (3.0, ["UnaryOp", "BinaryOp"]), (4.0, ["UnaryOp", "UnaryOp"]), (1.0, ["Noop"]),
    (0.5, ["UnaryOp"]), (-1.0, ["UnaryOp"]), (0.0, ["BinaryOp", "BinaryOp"]),
])
def test_pow_constant_exponent_on_any_base(tmp_path, p, layers):
    m = make([node("Pow", ["x", "p"], ["y"])], {"x": [1, 3, 4, 5]}, ["y"], {"p": np.array([p], np.float32)})
    x = edge_feed([1, 3, 4, 5])
    if p < 0:
        x[x == 0] = 0.5          # 1/0: ONNX inf, ncnn NaN (x86 reciprocal; documented)
    if p == 0.5:
        x = np.abs(x)            # sqrt of a negative is NaN in both
    graph = check(m, tmp_path, feeds={"x": x}, rtol=1e-5)
    assert [t for t in types(graph)[1:] if t != "Split"] == layers


def test_pow_half_integer_and_fractional_exponents(tmp_path):
    nodes = [node("Pow", ["a", "p25"], ["y"]), node("Pow", ["a", "p13"], ["z"]), node("Pow", ["a", "pm5"], ["w"])]
    inits = {"p25": np.float32(2.5), "p13": np.float32(1.3), "pm5": np.float32(-0.5)}
    a = np.abs(edge_feed([1, 2, 3, 4]))
    a[a == 0] = 0.125
    check(make(nodes, {"a": [1, 2, 3, 4]}, ["y", "z", "w"], inits), tmp_path, feeds={"a": a}, rtol=1e-5)


def test_pow_of_zero_by_fractional_exponent_is_zero(tmp_path):
    m = make([node("Pow", ["x", "p"], ["y"])], {"x": [1, 8]}, ["y"], {"p": np.float32(1.7)})
    check(m, tmp_path, feeds={"x": np.array([[0, 0, 1, 2, 3, 0.5, 0.1, 0]], np.float32)})


def test_constant_base_to_computed_power(tmp_path):
    m = make([node("Pow", ["b", "x"], ["y"])], {"x": [1, 2, 3]}, ["y"], {"b": np.float32(2.0)})
    check(m, tmp_path, rtol=1e-5)


def test_computed_base_and_exponent_refused():
    m = make([node("Pow", ["x", "e"], ["y"])], {"x": [1, 4], "e": [1, 4]}, ["y"])
    with pytest.raises(NcnnlikeError, match=r"node 'y_node' \(Pow\): Pow of a computed exponent"):
        import_onnx(m)


def test_softplus_large_inputs_stay_linear(tmp_path):
    x = edge_feed([1, 2, 10])
    x[0, 1, :4] = [100.0, 1000.0, 88.0, 80.0]
    check(make([node("Softplus", ["x"], ["y"])], {"x": [1, 2, 10]}, ["y"]), tmp_path, feeds={"x": x})


def test_where_with_constant_condition(tmp_path):
    cond = np.array([[True, False, True, False, False]])
    nodes = [node("Where", ["c", "x", "fill"], ["y"]), node("Where", ["c", "neg", "x"], ["z"])]
    inits = {"c": cond, "fill": np.float32(-1e4), "neg": rand(1, 1, 5)}
    check(make(nodes, {"x": [1, 3, 5]}, ["y", "z"], inits), tmp_path)


def test_where_computed_condition_refused():
    nodes = [node("Greater", ["x", "z"], ["c"]), node("Where", ["c", "x", "z"], ["y"])]
    m = make(nodes, {"x": [1, 4]}, ["y"], {"z": np.zeros(4, np.float32)})
    with pytest.raises(NcnnlikeError, match=r"\(Greater\): unsupported ONNX op"):
        import_onnx(m)


def test_clip_with_computed_bounds(tmp_path):
    """ONNX bounds are scalars; computed ones (here the mean of another input) -> BinaryOp max/min."""
    nodes = [node("ReduceMean", ["x2"], ["m"], keepdims=0), node("Clip", ["x", "lo", "m"], ["y"]),
             node("Clip", ["x", "m"], ["z"])]
    inits = {"lo": np.float32(-0.5)}
    check(make(nodes, {"x": [1, 3, 4, 5], "x2": [1, 3, 4, 5]}, ["y", "z"], inits), tmp_path)


@pytest.mark.parametrize("slope_shape", [[3, 1, 1], [1, 1, 5], [4, 5], [1]])
def test_prelu_slope_broadcasts(tmp_path, slope_shape):
    m = make([node("PRelu", ["x", "s"], ["y"])], {"x": [1, 3, 4, 5]}, ["y"], {"s": rand(*slope_shape)})
    graph = check(m, tmp_path)
    assert ("PReLU" in types(graph)) == (slope_shape in ([3, 1, 1], [1]))


def test_erf_mish_and_fp16_cast_pair(tmp_path):
    nodes = [node("Erf", ["x"], ["e"]), node("Mish", ["e"], ["m"]), node("Cast", ["m"], ["h"], to=10),
             node("Cast", ["h"], ["y"], to=1)]
    check(make(nodes, {"x": [1, 2, 3, 4]}, ["y"], opset=18), tmp_path, atol=2e-3, rtol=2e-3)
