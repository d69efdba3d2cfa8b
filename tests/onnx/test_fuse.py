"""Decomposed activations and normalisations are fused into one ncnn layer (fuse.py, fuse_norm.py),
and the fused models equal onnxruntime in ours and in pip ncnn."""
import numpy as np
import pytest

from onnxcase import check, make, node, rand, types

F = np.float32


def scalars(**values):
    return {k: F(v) for k, v in values.items()}


HARDSWISH_FORMS = {
    # paddle2onnx (PP-OCRv4, PP-PicoDet): x * Clip(x + 3, 0, 6) / 6
    "div_after": [node("Add", ["x", "three"], ["a"]), node("Clip", ["a", "zero", "six"], ["c"]),
                  node("Mul", ["x", "c"], ["m"]), node("Div", ["m", "six"], ["y"])],
    "scaled_clip": [node("Add", ["x", "three"], ["a"]), node("Clip", ["a", "zero", "six"], ["c"]),
                    node("Div", ["c", "six"], ["h"]), node("Mul", ["h", "x"], ["y"])],
    "mul_sixth": [node("Add", ["x", "three"], ["a"]), node("Clip", ["a", "zero", "six"], ["c"]),
                  node("Mul", ["x", "c"], ["m"]), node("Mul", ["m", "sixth"], ["y"])],
    "hardsigmoid_op": [node("HardSigmoid", ["x"], ["h"], alpha=1 / 6, beta=0.5), node("Mul", ["x", "h"], ["y"])],
    "clip_of_affine": [node("Mul", ["x", "sixth"], ["d"]), node("Add", ["d", "half"], ["a"]),
                       node("Clip", ["a", "zero", "one"], ["c"]), node("Mul", ["x", "c"], ["y"])],
}
CONSTS = scalars(three=3, zero=0, six=6, sixth=1 / 6, half=0.5, one=1)


@pytest.mark.parametrize("form", sorted(HARDSWISH_FORMS))
def test_hardswish_forms(tmp_path, form):
    m = make(HARDSWISH_FORMS[form], {"x": [1, 3, 4, 5]}, ["y"], CONSTS, opset=13)
    x = rand(1, 3, 4, 5, scale=4)
    graph = check(m, tmp_path, feeds={"x": x})
    assert types(graph) == ["Input", "HardSwish"]


def test_hardswish_not_fused_when_a_middle_tensor_is_used_elsewhere(tmp_path):
    nodes = HARDSWISH_FORMS["div_after"] + [node("Relu", ["c"], ["z"])]
    graph = check(make(nodes, {"x": [1, 3, 4, 5]}, ["y", "z"], CONSTS, opset=13), tmp_path)
    assert "HardSwish" not in types(graph)


def test_hardswish_keeps_the_affine_that_feeds_elsewhere(tmp_path):
    """BN folded as x*s + b before the HardSwish: the affine stays, the HardSwish is fused on it."""
    nodes = [node("Mul", ["x", "two"], ["s"]), node("Add", ["s", "one"], ["b"])] + [
        node(n.op_type, [("b" if i == "x" else i) for i in n.input], list(n.output)) for n in HARDSWISH_FORMS["div_after"]]
    graph = check(make(nodes, {"x": [1, 3, 4, 5]}, ["y"], dict(CONSTS, two=F(2)), opset=13), tmp_path)
    assert types(graph) == ["Input", "BinaryOp", "BinaryOp", "HardSwish"]


def test_hardsigmoid_forms(tmp_path):
    nodes = [node("Div", ["x", "six"], ["d"]), node("Add", ["d", "half"], ["a"]),
             node("Clip", ["a", "zero", "one"], ["y"]),
             node("Add", ["x", "three"], ["b"]), node("Clip", ["b", "zero", "six"], ["c"]), node("Div", ["c", "six"], ["z"])]
    graph = check(make(nodes, {"x": [1, 3, 4, 5]}, ["y", "z"], CONSTS, opset=13), tmp_path,
                  feeds={"x": rand(1, 3, 4, 5, scale=4)})
    assert types(graph).count("HardSigmoid") == 2 and "Clip" not in types(graph)


def test_swish_and_mish(tmp_path):
    nodes = [node("Sigmoid", ["x"], ["s"]), node("Mul", ["s", "x"], ["y"]),
             node("Softplus", ["y"], ["p"]), node("Tanh", ["p"], ["t"]), node("Mul", ["y", "t"], ["z"])]
    graph = check(make(nodes, {"x": [1, 3, 4, 5]}, ["z"]), tmp_path)
    assert types(graph) == ["Input", "Swish", "Mish"]


@pytest.mark.parametrize("beta, fused", [(1.0, True), (2.0, False)])
def test_paddle_swish_with_explicit_beta(tmp_path, beta, fused):
    """paddle2onnx writes swish as x * Sigmoid(x * beta): Swish when beta is 1 (ncnn's Swish has no beta)."""
    nodes = [node("Mul", ["x", "beta"], ["bx"]), node("Sigmoid", ["bx"], ["s"]), node("Mul", ["x", "s"], ["y"])]
    m = make(nodes, {"x": [1, 3, 4, 5]}, ["y"], {"beta": np.array([beta], np.float32)})
    assert (types(check(m, tmp_path)) == ["Input", "Swish"]) == fused


GELU_ERF = [node("Div", ["x", "sqrt2"], ["d"]), node("Erf", ["d"], ["e"]), node("Add", ["e", "one"], ["a"]),
            node("Mul", ["x", "a"], ["m"]), node("Mul", ["m", "half"], ["y"])]
GELU_TANH = [node("Pow", ["x", "three"], ["c"]), node("Mul", ["c", "k"], ["kc"]), node("Add", ["x", "kc"], ["s"]),
             node("Mul", ["s", "r"], ["u"]), node("Tanh", ["u"], ["t"]), node("Add", ["t", "one"], ["a"]),
             node("Mul", ["half", "x"], ["hx"]), node("Mul", ["hx", "a"], ["y"])]


@pytest.mark.parametrize("nodes, fast", [(GELU_ERF, 0), (GELU_TANH, 1)])
def test_gelu_chains(tmp_path, nodes, fast):
    inits = scalars(sqrt2=np.sqrt(2), one=1, half=0.5, three=3, k=0.044715, r=np.sqrt(2 / np.pi))
    graph = check(make(nodes, {"x": [1, 6, 8]}, ["y"], inits), tmp_path, feeds={"x": rand(1, 6, 8, scale=3)})
    assert types(graph) == ["Input", "GELU"] and graph.layers[1].params.get(0, 0) == fast


def layernorm_chain(square="Pow", gamma=True):
    nodes = [node("ReduceMean", ["x"], ["mu"], axes=[-1]), node("Sub", ["x", "mu"], ["d"]),
             node("Pow", ["d", "two"], ["sq"]) if square == "Pow" else node("Mul", ["d", "d"], ["sq"]),
             node("ReduceMean", ["sq"], ["var"], axes=[-1]), node("Add", ["var", "eps"], ["ve"]),
             node("Sqrt", ["ve"], ["sd"]), node("Div", ["d", "sd"], ["n"])]
    if gamma:
        nodes += [node("Mul", ["n", "g"], ["ng"]), node("Add", ["ng", "b"], ["y"])]
    else:
        nodes += [node("Identity", ["n"], ["y"])]
    return nodes


@pytest.mark.parametrize("square, gamma", [("Pow", True), ("Mul", True), ("Pow", False)])
def test_layernorm_chain_fused(tmp_path, square, gamma):
    inits = {"two": F(2), "eps": F(1e-5), "g": rand(16), "b": rand(16)}
    m = make(layernorm_chain(square, gamma), {"x": [1, 5, 16]}, ["y"], inits, opset=13)
    x = rand(1, 5, 16, scale=3) + 2
    graph = check(m, tmp_path, feeds={"x": x})
    assert "LayerNorm" in types(graph) and "BinaryOp" not in types(graph)


def test_groupnorm_as_torch_exports_it(tmp_path):
    nodes = [node("Reshape", ["x", "grouped"], ["r"]),
             node("InstanceNormalization", ["r", "ones", "zeros"], ["i"], epsilon=1e-5),
             node("Reshape", ["i", "full"], ["f"]), node("Mul", ["f", "g"], ["m"]), node("Add", ["m", "b"], ["y"])]
    inits = {"grouped": np.array([1, 2, -1], np.int64), "ones": np.ones(2, F), "zeros": np.zeros(2, F),
             "full": np.array([1, 6, 4, 5], np.int64), "g": rand(6, 1, 1), "b": rand(6, 1, 1)}
    graph = check(make(nodes, {"x": [1, 6, 4, 5]}, ["y"], inits, opset=13), tmp_path)
    assert types(graph) == ["Input", "GroupNorm"]


@pytest.mark.parametrize("shape", [[1, 6, 4, 5], [1, 6, 7]])
def test_instance_and_group_normalization_ops(tmp_path, shape):
    c = shape[1]
    nodes = [node("InstanceNormalization", ["x", "s", "b"], ["i"], epsilon=1e-4),
             node("GroupNormalization", ["i", "gs", "gb"], ["y"], num_groups=3, epsilon=1e-5)]
    inits = {"s": rand(c), "b": rand(c), "gs": rand(c), "gb": rand(c)}
    graph = check(make(nodes, {"x": shape}, ["y"], inits, opset=21), tmp_path)
    assert {"InstanceNorm", "GroupNorm"} <= set(types(graph))


def test_group_normalization_opset18_scale_per_group(tmp_path):
    nodes = [node("GroupNormalization", ["x", "gs", "gb"], ["y"], num_groups=2)]
    check(make(nodes, {"x": [1, 6, 3, 3]}, ["y"], {"gs": rand(2), "gb": rand(2)}, opset=18), tmp_path)
