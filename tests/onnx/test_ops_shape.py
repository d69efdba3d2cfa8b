"""Squeeze / Unsqueeze become ncnn's Squeeze / ExpandDims with 3=axes, as pnnx writes them, where
those layers compute the ONNX shape from the blob as produced; otherwise a Reshape (or nothing).
Ours and pip ncnn are both compared with onnxruntime."""
import numpy as np
import pytest

from onnxcase import check, make, node, rand, types

AX = np.int64


@pytest.mark.parametrize("shape, axes, layer, ncnn_axes", [
    ([1, 3, 1, 5], [2], "Squeeze", [1]),
    ([1, 1, 4, 5], [1], "Squeeze", [0]),
    ([1, 3, 4, 1], [-1], "Squeeze", [2]),
    ([1, 1, 4, 1], [1, 3], "Squeeze", [0, 2]),
    ([1, 2, 3, 1, 5], [3], "Squeeze", [2]),
    ([1, 3, 1, 5], [0, 2], "Squeeze", [1]),            # the batch axis goes too: no ncnn axis
])
def test_squeeze_is_an_ncnn_squeeze_layer(tmp_path, shape, axes, layer, ncnn_axes):
    m = make([node("Squeeze", ["x", "a"], ["s"]), node("Relu", ["s"], ["y"])], {"x": shape}, ["y"],
             {"a": np.array(axes, AX)}, opset=13)
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", layer, "ReLU"]
    assert graph.layers[1].params[3] == ncnn_axes


@pytest.mark.parametrize("shape, axes, ncnn_axes", [
    ([1, 3, 5], [2], [1]),
    ([1, 3, 5], [-1], [2]),
    ([1, 6], [1, 3], [0, 2]),
    ([1, 2, 3, 5], [2], [1]),
    ([1, 7], [2, 3], [1, 2]),
])
def test_unsqueeze_is_an_ncnn_expanddims_layer(tmp_path, shape, axes, ncnn_axes):
    m = make([node("Unsqueeze", ["x", "a"], ["u"]), node("Relu", ["u"], ["y"])], {"x": shape}, ["y"],
             {"a": np.array(axes, AX)}, opset=13)
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "ExpandDims", "ReLU"]
    assert graph.layers[1].params[3] == ncnn_axes


def test_squeeze_without_axes_and_opset11_attribute_forms(tmp_path):
    """Squeeze with no axes drops every size-1 axis, batch included; the Unsqueeze(0) that
    restores the batch is then no layer."""
    nodes = [node("Squeeze", ["x"], ["s"]), node("Unsqueeze", ["s"], ["u"], axes=[0]), node("Relu", ["u"], ["y"])]
    graph = check(make(nodes, {"x": [1, 4, 1, 6]}, ["y"], opset=11), tmp_path)
    assert types(graph) == ["Input", "Squeeze", "ReLU"]
    nodes = [node("Unsqueeze", ["x"], ["u"], axes=[2]), node("Squeeze", ["u"], ["s"], axes=[2]), node("Relu", ["s"], ["y"])]
    graph = check(make(nodes, {"x": [1, 4, 6]}, ["y"], opset=11), tmp_path)
    assert types(graph) == ["Input", "ExpandDims", "Squeeze", "ReLU"]


def test_squeeze_of_a_pooled_vector_needs_no_layer(tmp_path):
    """GlobalAveragePool already yields ncnn's 1-D blob: Squeeze is nothing, Unsqueeze to (1, C, 1)
    a Reshape of that vector (it is not in the ONNX input's layout)."""
    nodes = [node("GlobalAveragePool", ["x"], ["g"]), node("Squeeze", ["g", "a"], ["s"]),
             node("Unsqueeze", ["s", "b"], ["u"]), node("Relu", ["u"], ["y"])]
    m = make(nodes, {"x": [1, 6, 3, 3]}, ["y"], {"a": np.array([2, 3], AX), "b": np.array([2], AX)}, opset=13)
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "Pooling", "ExpandDims", "ReLU"]


def test_unsqueeze_past_four_ncnn_dims_is_refused_by_name(tmp_path):
    from ncnnlike.errors import NcnnlikeError
    from ncnnlike.onnx import import_onnx
    m = make([node("Unsqueeze", ["x", "a"], ["y"])], {"x": [1, 2, 3, 4, 5]}, ["y"], {"a": np.array([5], AX)}, opset=13)
    with pytest.raises(NcnnlikeError, match=r"node 'y_node' \(Unsqueeze\):"):
        import_onnx(m)


def test_squeeze_feeding_a_broadcast_keeps_parity(tmp_path):
    """torch's `x.squeeze(2) * w` head: Squeeze then BinaryOp with a constant."""
    nodes = [node("Squeeze", ["x", "a"], ["s"]), node("Mul", ["s", "w"], ["y"])]
    m = make(nodes, {"x": [1, 8, 1, 10]}, ["y"], {"a": np.array([2], AX), "w": rand(8, 1)}, opset=13)
    assert "Squeeze" in types(check(m, tmp_path))
