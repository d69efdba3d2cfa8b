"""Gather / GatherElements / Slice with steps / Embed: ours and pip ncnn equal onnxruntime."""
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError
from ncnnlike.onnx import import_onnx
from onnxcase import check, make, node, rand, types

I64 = np.int64


@pytest.mark.parametrize("shape, axis, idx", [
    ([1, 5, 6], 1, -1),                    # y[:, -1] of an LSTM head (scalar index drops the axis)
    ([1, 5, 6], 2, 0),
    ([1, 4, 5, 6], 1, [2, 0, 3]),           # pieces joined by Concat
    ([1, 4, 5, 6], 3, [1, 2, 3]),           # one run: one Crop
    ([1, 4, 5, 6], 2, [4, 3, 2, 1]),        # descending: Flip + Crop
    ([1, 4, 5, 6], 3, [[0, 2], [4, 5]]),    # 2-D indices add an axis
    ([1, 8, 6], 1, [0, 2, 4, 6]),           # a stride: the (A, n, k, B) view
])
def test_gather_constant_indices(tmp_path, shape, axis, idx):
    m = make([node("Gather", ["x", "i"], ["g"], axis=axis), node("Relu", ["g"], ["y"])], {"x": shape}, ["y"],
             {"i": np.array(idx, I64)})
    check(m, tmp_path)


def test_lstm_style_head_gathers_last_step_then_gemm(tmp_path):
    nodes = [node("Gather", ["x", "i"], ["last"], axis=1), node("Gemm", ["last", "w", "b"], ["y"], transB=1)]
    m = make(nodes, {"x": [1, 7, 6]}, ["y"], {"i": np.array(-1, I64), "w": rand(3, 6), "b": rand(3)})
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "Crop", "Reshape", "InnerProduct"]


@pytest.mark.parametrize("starts, ends, axes, steps", [
    ([0], [8], [2], [2]),
    ([1], [8], [2], [3]),                   # 1, 4, 7: the last one past the span
    ([-1], [-100], [1], [-1]),              # reversed
    ([5], [0], [2], [-2]),
    ([0, 1], [4, 7], [1, 2], [2, 2]),
    ([1, 0], [3, 8], [1, 3], [1, 3]),
])
def test_slice_with_steps(tmp_path, starts, ends, axes, steps):
    inits = {k: np.array(v, I64) for k, v in zip(("s", "e", "a", "t"), (starts, ends, axes, steps))}
    m = make([node("Slice", ["x", "s", "e", "a", "t"], ["y"])], {"x": [1, 4, 8, 9]}, ["y"], inits)
    check(m, tmp_path)


def test_gather_elements_with_broadcast_indices(tmp_path):
    idx = np.broadcast_to(np.array([2, 0, 1, 1], I64).reshape(1, 4, 1), (1, 4, 5)).copy()
    m = make([node("GatherElements", ["x", "i"], ["y"], axis=1)], {"x": [1, 3, 5]}, ["y"], {"i": idx})
    check(m, tmp_path)


def test_gather_elements_varying_indices_refused():
    idx = np.array([[[0, 1], [1, 0]]], I64)
    m = make([node("GatherElements", ["x", "i"], ["y"], axis=1)], {"x": [1, 2, 2]}, ["y"], {"i": idx})
    with pytest.raises(NcnnlikeError, match=r"node 'y_node' \(GatherElements\): .*vary across"):
        import_onnx(m)


def test_embedding_to_embed(tmp_path):
    nodes = [node("Gather", ["table", "ids"], ["e"]), node("Relu", ["e"], ["y"])]
    m = make(nodes, {"ids": [1, 7]}, ["y"], {"table": rand(10, 6)}, int_inputs=("ids",))
    graph = check(m, tmp_path)
    assert "Embed" in types(graph)


def test_gather_computed_indices_into_computed_tensor_refused():
    m = make([node("Gather", ["x", "ids"], ["y"], axis=1)], {"x": [1, 5, 3], "ids": [1, 2]}, ["y"], int_inputs=("ids",))
    with pytest.raises(NcnnlikeError, match=r"\(Gather\): Gather with computed indices"):
        import_onnx(m)
