"""Attention blocks -> MultiHeadAttention (fuse_attention.py), or MatMul + Softmax when the pattern
differs; ours and pip ncnn equal onnxruntime either way."""
import numpy as np
import pytest

from onnxcase import check, types
from tools.onnx_zoo_models import I64, _Builder

T, E, HEADS = 6, 16, 2
D = E // HEADS


def split_heads(b, x, perm, cin=E):
    lin = b.linear(x, cin, E)
    return b.op("Transpose", [b.op("Reshape", [lin, b.const(np.array([1, T, HEADS, D], I64))])], perm=perm)


def attention(b, xq, xk, xv, k_form="perm0231", mask=False, cin=E):
    q = b.op("Mul", [split_heads(b, xq, [0, 2, 1, 3], cin), b.const(np.float32(D ** -0.5))])
    if k_form == "perm0231":
        kt = split_heads(b, xk, [0, 2, 3, 1], cin)
    else:
        kt = b.op("Transpose", [split_heads(b, xk, [0, 2, 1, 3], cin)], perm=[0, 1, 3, 2])
    s = b.op("MatMul", [q, kt])
    if mask:
        s = b.op("Add", [s, b.const(np.triu(np.full((T, T), -1e4, np.float32), 1))])
    o = b.op("MatMul", [b.op("Softmax", [s], axis=-1), split_heads(b, xv, [0, 2, 1, 3], cin)])
    flat = b.op("Reshape", [b.op("Transpose", [o], perm=[0, 2, 1, 3]), b.const(np.array([1, T, E], I64))])
    return b.linear(flat, E, cin)


@pytest.mark.parametrize("k_form", ["perm0231", "transpose_of_k"])
def test_self_attention_with_separate_projections(tmp_path, k_form):
    b = _Builder(21)
    m = b.model({"x": [1, T, E]}, attention(b, "x", "x", "x", k_form))
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "MultiHeadAttention"]


def test_cross_attention_takes_three_bottoms(tmp_path):
    b = _Builder(22)
    m = b.model({"q": [1, T, E], "kv": [1, T, E]}, attention(b, "q", "kv", "kv"))
    graph = check(m, tmp_path)
    mha = [layer for layer in graph.layers if layer.type == "MultiHeadAttention"]
    assert len(mha) == 1 and len(mha[0].bottoms) == 3


def test_masked_attention_stays_matmul_softmax(tmp_path):
    b = _Builder(23)
    m = b.model({"x": [1, T, E]}, attention(b, "x", "x", "x", mask=True))
    graph = check(m, tmp_path)
    assert "MultiHeadAttention" not in types(graph) and {"MatMul", "Softmax"} <= set(types(graph))
