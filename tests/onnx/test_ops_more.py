"""Expand, Tile, Gemm trans flags, Einsum, Pad modes, Resize by fractional scales, ReduceL2 /
LogSumExp, Cast, ArgMax, ConvTranspose output_padding: ours and pip ncnn equal onnxruntime."""
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.onnx import import_onnx
from onnxcase import check, default_feeds, make, node, ours_outputs, rand, types

I64 = np.int64


@pytest.mark.parametrize("shape, target", [([1, 3, 1, 5], [1, 3, 4, 5]), ([1, 1, 5], [1, 6, 5]),
                                           ([1, 5], [1, 2, 3, 5]), ([1, 3, 1], [1, 3, 4])])
def test_expand_broadcasts_by_tile(tmp_path, shape, target):
    m = make([node("Expand", ["x", "s"], ["e"]), node("Relu", ["e"], ["y"])], {"x": shape}, ["y"],
             {"s": np.array(target, I64)})
    graph = check(m, tmp_path)
    assert "Tile" in types(graph)


def test_tile_with_constant_repeats(tmp_path):
    m = make([node("Tile", ["x", "r"], ["y"])], {"x": [1, 2, 3, 4]}, ["y"], {"r": np.array([1, 2, 1, 3], I64)})
    check(m, tmp_path)


def test_tile_of_the_batch_axis_refused():
    m = make([node("Tile", ["x", "r"], ["y"])], {"x": [1, 4]}, ["y"], {"r": np.array([2, 1], I64)})
    with pytest.raises(NcnnlikeError, match=r"\(Tile\): tiling the batch axis"):
        import_onnx(m)


def test_gemm_trans_a_and_trans_b(tmp_path):
    nodes = [node("Reshape", ["x", "kxm"], ["a"]), node("Gemm", ["a", "w", "c"], ["y"], transA=1, transB=1, alpha=0.5,
                                                         beta=2.0)]
    inits = {"kxm": np.array([6, 4], I64), "w": rand(3, 6), "c": rand(3)}
    check(make(nodes, {"x": [1, 24]}, ["y"], inits), tmp_path)


@pytest.mark.parametrize("equation, shapes", [
    ("bij,bjk->bik", [[1, 3, 4], [1, 4, 5]]),
    ("bhid,bhjd->bhij", [[1, 2, 3, 4], [1, 2, 5, 4]]),
    ("bi,bj->bij", [[1, 6], [1, 3]]),
    ("bnc,bmc->bnm", [[1, 4, 8], [1, 3, 8]]),
])
def test_einsum_in_ncnn_dialect(tmp_path, equation, shapes):
    names = ["a", "b"]
    m = make([node("Einsum", names, ["y"], equation=equation)], dict(zip(names, shapes)), ["y"], opset=12)
    graph = check(m, tmp_path)
    assert "Einsum" in types(graph)


@pytest.mark.parametrize("mode, pads", [("wrap", [0, 0, 2, 1, 0, 0, 1, 2]), ("constant", [0, 0, -1, 2, 0, 0, 1, -2]),
                                        ("reflect", [0, 1, -1, 0, 0, 0, 2, 1]), ("edge", [0, 0, 2, 2, 0, 0, 1, 1])])
def test_pad_modes_and_negative_pads(tmp_path, mode, pads):
    m = make([node("Pad", ["x", "p"], ["y"], mode=mode)], {"x": [1, 3, 5, 6]}, ["y"], {"p": np.array(pads, I64)},
             opset=19)
    check(m, tmp_path)


@pytest.mark.parametrize("mode, extra", [("linear", {}), ("nearest", dict(coordinate_transformation_mode="asymmetric",
                                                                          nearest_mode="floor"))])
def test_resize_by_fractional_scales(tmp_path, mode, extra):
    m = make([node("Resize", ["x", "", "sc"], ["y"], mode=mode, **extra)], {"x": [1, 2, 6, 8]}, ["y"],
             {"sc": np.array([1, 1, 1.4, 0.7], np.float32)})
    graph = check(m, tmp_path)
    assert graph.layers[1].type == "Interp" and np.isclose(graph.layers[1].params.get(1), 1.4)


def test_reduce_l2_and_logsumexp_of_large_values(tmp_path):
    nodes = [node("ReduceL2", ["x"], ["l2"], axes=[2], keepdims=0),
             node("ReduceLogSumExp", ["x"], ["lse"], axes=[1, 2], keepdims=1),
             node("ReduceLogSumExp", ["x"], ["lse0"], axes=[2], keepdims=0)]
    x = default_feeds(make(nodes, {"x": [1, 3, 5]}, ["l2"]))["x"] * 60 + 40     # exp overflows past ~88.7
    check(make(nodes, {"x": [1, 3, 5]}, ["l2", "lse", "lse0"], opset=13), tmp_path, feeds={"x": x})


def test_cast_to_int_truncates_and_int_ids_stay(tmp_path):
    nodes = [node("Mul", ["x", "k"], ["s"]), node("Cast", ["s"], ["i"], to=7), node("Cast", ["i"], ["y"], to=1)]
    check(make(nodes, {"x": [1, 3, 4]}, ["y"], {"k": np.float32(3.3)}), tmp_path)
    nodes = [node("Cast", ["ids"], ["i32"], to=6), node("Gather", ["t", "i32"], ["y"])]
    graph = check(make(nodes, {"ids": [1, 5]}, ["y"], {"t": rand(10, 4)}, int_inputs=("ids",)), tmp_path)
    assert types(graph) == ["Input", "Embed"]


def test_cast_to_bool_refused():
    m = make([node("Cast", ["x"], ["y"], to=9)], {"x": [1, 3]}, ["y"])
    with pytest.raises(NcnnlikeError, match=r"\(Cast\): cast of a computed tensor to=9"):
        import_onnx(m)


def test_argmax_of_a_class_vector_in_ours():
    """pip ncnn has no ArgMax layer (left out of its build): ours only, and a warning says so."""
    m = make([node("ArgMax", ["x"], ["y"], axis=1, keepdims=1)], {"x": [1, 10]}, ["y"])
    with pytest.warns(Warning, match="ArgMax"):
        graph = import_onnx(m)
    feeds = default_feeds(m)
    assert ours_outputs(graph, feeds, ["y"])["y"].ravel()[0] == feeds["x"].argmax()


@pytest.mark.parametrize("attrs", [dict(strides=[2, 2], output_padding=[1, 1]),
                                   dict(strides=[3, 2], pads=[1, 0, 1, 1], output_padding=[2, 1]),
                                   dict(strides=[2, 2], output_padding=[1, 0], group=2)])
def test_conv_transpose_output_padding(tmp_path, attrs):
    g = attrs.get("group", 1)
    m = make([node("ConvTranspose", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], **attrs)], {"x": [1, 4, 5, 6]}, ["y"],
             {"w": rand(4, 6 // g, 3, 3), "b": rand(6)})
    check(m, tmp_path)


@pytest.mark.parametrize("op, attrs", [("DepthToSpace", dict(blocksize=2)), ("DepthToSpace", dict(blocksize=2, mode="CRD")),
                                       ("SpaceToDepth", dict(blocksize=2))])
def test_depth_space_rearrangements_are_exact(tmp_path, op, attrs):
    check(make([node(op, ["x"], ["y"], **attrs)], {"x": [1, 8, 4, 6]}, ["y"], opset=13), tmp_path, atol=0, rtol=0)


def test_cumsum_selu_celu_shrink(tmp_path):
    nodes = [node("CumSum", ["x", "ax"], ["c"]), node("Selu", ["c"], ["s"]), node("Celu", ["s"], ["e"], alpha=0.7),
             node("Shrink", ["e"], ["y"], bias=0.2, lambd=0.3)]
    check(make(nodes, {"x": [1, 3, 4, 5]}, ["y"], {"ax": np.array(2, I64)}, opset=13), tmp_path)
