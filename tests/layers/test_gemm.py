"""Gemm: y = alpha * (A.B + beta*C) with constant or bottom operands, C broadcast types, transposes."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.layers.base import weight_specs

M, K, N = 4, 5, 3
RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, M, K)).astype(np.float32)
B = RNG.standard_normal((2, K, N)).astype(np.float32)
C_SHAPES = {0: (1,), 1: (M,), 2: (M, 1), 3: (M, N), 4: (1, N)}


def c_broadcast(c, kind):
    return c.reshape({0: (1, 1), 1: (M, 1), 2: (M, 1), 3: (M, N), 4: (1, N)}[kind])


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_constant_b_and_c(kind, trans_b):
    b = B[0]
    c = RNG.standard_normal(C_SHAPES[kind]).astype(np.float32)
    params = {0: 0.5, 1: 2.0, 3: trans_b, 5: 1, 6: 1, 8: N, 9: K, 10: kind}
    weights = {"B_data": (b.T if trans_b else b).ravel(), "C_data": c.ravel()}
    y = run_layers([layer("Gemm", "g", ["a"], ["y"], params, weights)], {"a": A})["y"]
    ref = 0.5 * (A @ b + 2.0 * c_broadcast(c, kind))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_constant_a_with_trans_a_and_bottom_b():
    a = A[0]
    params = {2: 1, 4: 1, 7: M, 9: K}
    y = run_layers([layer("Gemm", "g", ["b"], ["y"], params, {"A_data": a.T.ravel()})], {"b": B})["y"]
    np.testing.assert_allclose(y, a @ B, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("c_shape,as_matrix", [
    ((1,), (1, 1)), ((M,), (M, 1)), ((N,), (1, N)), ((M, 1), (M, 1)), ((M, N), (M, N)), ((1, N), (1, N))])
def test_three_bottoms_with_c_broadcast_by_shape(c_shape, as_matrix):
    c = RNG.standard_normal((2,) + c_shape).astype(np.float32)
    y = run_layers([layer("Gemm", "g", ["a", "b", "c"], ["y"], {1: 0.25})], {"a": A, "b": B, "c": c})["y"]
    np.testing.assert_allclose(y, A @ B + 0.25 * c.reshape((2,) + as_matrix), rtol=1e-5, atol=1e-5)


def test_output_transpose_and_n1m():
    y = run_layers([layer("Gemm", "g", ["a", "b"], ["y"], {14: 1, 11: 1})], {"a": A, "b": B})["y"]
    assert y.shape == (2, N, 1, M)
    np.testing.assert_allclose(y[:, :, 0, :], np.swapaxes(A @ B, 1, 2), rtol=1e-5, atol=1e-5)


def test_3d_operand_with_h_1_is_a_matrix_of_c_rows():
    a3 = A[:, :, None, :]
    y = run_layers([layer("Gemm", "g", ["a", "b"], ["y"])], {"a": a3, "b": B})["y"]
    np.testing.assert_allclose(y, A @ B, rtol=1e-5, atol=1e-5)


def test_bin_buffers_in_order_with_int8_scales():
    l = layer("Gemm", "g", [], ["y"], {4: 1, 5: 1, 6: 1, 7: M, 8: N, 9: K, 10: 3, 18: 1})
    assert [(s.name, s.count, s.tagged) for s in weight_specs(l)] == [
        ("A_data", M * K, True), ("B_data", K * N, True), ("C_data", M * N, True),
        ("A_data_int8_scales", M, False), ("B_data_int8_scale", 1, False)]
