"""Gemm: y = alpha * (A.B + beta*C) with constant or bottom operands, C broadcast types, transposes;
int8 (quantize_term 2, model2int8's output) equal to pip ncnn's to the bit, every branch of its x86
int8 Gemm (constant A, constant B, both dynamic, both constant), in every use_int8_inference mode."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import INT8_BITEXACT, check_ncnn, make_model
from ncnnlike.errors import NcnnlikeError
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


# --- int8 (quantize_term 2): ncnn's x86 int8 Gemm, bit-exact against pip ncnn on AVX-512 -----------

INT8_MODES = ("sim", True, False)   # pip ncnn runs int8 whatever use_int8_inference says; so do we
B_SCALE = np.float32(77.7)          # a scale whose descale forms (exact, rcp14, rcpss, hoisted) all differ


def near_ties(rows, cols, seed=0):
    """Rows whose values sit on half steps of absmax/127 (each row's absmax first): any ulp of
    difference in a row's quantization scale flips some of its int8 values."""
    rng = np.random.default_rng(seed)
    top = rng.uniform(0.5, 3, (rows, 1)).astype(np.float32)
    a = top * (rng.integers(0, 127, (rows, cols)) + 0.5) / 127 * rng.choice([-1, 1], (rows, cols))
    a[:, :1] = top
    return a.astype(np.float32)


def gemm8(bottoms, params):
    inputs = "".join("Input in_%s 0 1 %s\n" % (b, b) for b in bottoms)
    return inputs + "Gemm g %d 1 %s y %s 18=2" % (len(bottoms), " ".join(bottoms), params)


def int8_weights(m=0, n=0, k=0, seed=0):
    """int8 A (m x k) with per-row scales and/or int8 B (n x k, transB 1) with B_SCALE."""
    rng = np.random.default_rng(seed)
    weights = {}
    if m:
        weights.update(A_data=rng.integers(-127, 128, m * k).astype(np.int8),
                       A_data_int8_scales=rng.uniform(20, 200, m).astype(np.float32))
    if n:
        weights.update(B_data=rng.integers(-127, 128, n * k).astype(np.int8), B_data_int8_scale=[B_SCALE])
    return {"g": weights}


def check_int8(tmp_path, bottoms, params, inputs, weights=None, modes=INT8_MODES, batch=2):
    for mode in modes:
        check_ncnn(gemm8(bottoms, params), inputs, tmp_path, weights=weights, int8=mode, batch=batch,
                   **INT8_BITEXACT)


@pytest.mark.parametrize("rows", [7, 16, 24, 36, 48])      # elempack 1, 16, 8, 4, 16
def test_int8_constant_b_quantizes_a_row_by_row_at_every_elempack(tmp_path, rows):
    check_int8(tmp_path, ["a"], "3=1 5=1 8=12 9=40", {"a": near_ties(rows, 40)}, int8_weights(n=12, k=40))


@pytest.mark.parametrize("k", [33, 36, 40, 96])             # elempack 1, 4, 8, 16 of the stored A
def test_int8_transposed_a_in_blocks_of_64_to_1_floats(tmp_path, k):
    """127 rows: every block size of transpose_compute_A_tile_fp32_int8_scales."""
    a_t = np.ascontiguousarray(near_ties(127, k).T)
    check_int8(tmp_path, ["a"], "2=1 3=1 5=1 8=12 9=%d" % k, {"a": a_t}, int8_weights(n=12, k=k), modes=("sim", True))


def test_int8_transposed_a_tiles_by_constant_tile_m(tmp_path):
    a_t = np.ascontiguousarray(near_ties(200, 33).T)
    check_int8(tmp_path, ["a", "b"], "2=1 20=40", {"a": a_t, "b": near_ties(33, 9)}, modes=("sim",), batch=1)


@pytest.mark.parametrize("trans_b", [0, 1])
def test_int8_constant_b_in_either_orientation(tmp_path, trans_b):
    b_shape = "8=12 9=33 3=%d" % trans_b
    check_int8(tmp_path, ["a"], "5=1 " + b_shape, {"a": near_ties(7, 33)}, int8_weights(n=12, k=33), modes=("sim",))


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 0), (0, 1)])
def test_int8_constant_a_descales_in_16_8_1_wide_steps(tmp_path, trans_a, trans_b):
    """45 rows: 32 in 16-wide code (rcp14), 8 in one 8-wide step (rcpps), 5 scalar; B dynamic."""
    b = RNG.standard_normal((12, 33) if trans_b else (33, 12)).astype(np.float32)
    check_int8(tmp_path, ["b"], "2=%d 3=%d 4=1 7=45 9=33" % (trans_a, trans_b), {"b": b}, int8_weights(m=45, k=33))


@pytest.mark.parametrize("trans_a,trans_b", [(0, 0), (1, 1)])
def test_int8_both_dynamic(tmp_path, trans_a, trans_b):
    a, b = near_ties(20, 33), near_ties(33, 9)
    inputs = {"a": np.ascontiguousarray(a.T) if trans_a else a, "b": np.ascontiguousarray(b.T) if trans_b else b}
    check_int8(tmp_path, ["a", "b"], "2=%d 3=%d" % (trans_a, trans_b), inputs)


def test_int8_both_constant_with_c_bottom_is_a_batch_of_one(tmp_path):
    c = RNG.standard_normal((20, 12)).astype(np.float32)
    check_int8(tmp_path, ["c"], "1=0.3 4=1 5=1 3=1 7=20 8=12 9=33", {"c": c}, int8_weights(m=20, n=12, k=33),
               modes=("sim", True))


@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_int8_constant_c_with_alpha_and_beta(tmp_path, kind):
    """C*beta added (types 0, 1, 2, 4) or fma(c, beta, y) (type 3), then alpha."""
    params = "0=1.700000 1=0.300000 3=1 5=1 6=1 7=7 8=12 9=33 10=%d" % kind
    check_int8(tmp_path, ["a"], params, {"a": near_ties(7, 33)}, int8_weights(n=12, k=33), modes=("sim", True))


@pytest.mark.parametrize("tiles", ["", "20=20 21=20"])
def test_int8_c_per_column_fused_where_gcc_contracted(tmp_path, tiles):
    """19 x 23 outputs: rows in 16-, 2- and 1-row blocks, columns in 16-, 4-, 2- and 1-wide steps,
    per tile of TILE_M x TILE_N (here also forced to 32 x 32)."""
    inputs = {"a": near_ties(19, 33), "c": RNG.standard_normal(23).astype(np.float32)}
    check_int8(tmp_path, ["a", "c"], "1=0.300000 3=1 5=1 8=23 9=33 " + tiles, inputs, int8_weights(n=23, k=33),
               modes=("sim",))


@pytest.mark.parametrize("c_shape", [(1,), (M,), (N,), (M, 1), (M, N), (1, N)])
def test_int8_c_bottom_broadcast_by_shape(tmp_path, c_shape):
    inputs = {"a": A[0], "b": B[0], "c": RNG.standard_normal(c_shape).astype(np.float32)}
    check_int8(tmp_path, ["a", "b", "c"], "0=0.500000 1=0.700000", inputs, modes=("sim",))


@pytest.mark.parametrize("params,top", [("14=1", (N, M)), ("11=1", (M, 1, N)), ("11=1 14=1", (N, 1, M))])
def test_int8_output_transpose_and_n1m(tmp_path, params, top):
    inputs = {"a": A[0], "b": B[0], "c": RNG.standard_normal((M, N)).astype(np.float32)}
    outs = check_ncnn(gemm8(["a", "b", "c"], "1=0.300000 " + params), inputs, tmp_path, int8="sim", **INT8_BITEXACT)
    assert outs["y"][0].shape[1:] == top


def test_int8_3d_operands_are_matrices_of_c_rows(tmp_path):
    check_int8(tmp_path, ["a", "b"], "3=1", {"a": near_ties(16, 33)[:, None, :], "b": near_ties(9, 33)[:, None, :]},
               modes=("sim", True))


@pytest.mark.parametrize("k,n", [(768, 3072), (3072, 768)])
def test_int8_vision_transformer_mlp_gemm(tmp_path, k, n):
    """ncnn's benchmark ViT (145 tokens): LayerNorm rows times a constant transB weight, C per
    column, quantized by our model2int8 (spec 6.4); K = 3072: the sim mode sums in float64."""
    from ncnnlike.quant.convert import quantize_gemm
    text = "Input in 0 1 a\nGemm g 1 1 a y 3=1 5=1 6=1 8=%d 9=%d 10=4" % (n, k)
    _, _, graph = make_model(text, tmp_path, name="float")
    quantize_gemm(graph.layer("g"))
    for mode in ("sim", True):
        check_ncnn(text + " 18=2", {"a": near_ties(145, k)}, tmp_path, weights={"g": dict(graph.layer("g").weights)},
                   int8=mode, batch=1, **INT8_BITEXACT)


def test_int8_float_weights_are_refused():
    gemm = layer("Gemm", "g", ["a"], ["y"], {3: 1, 5: 1, 8: N, 9: K, 18: 2},
                 {"B_data": B[0].T.ravel(), "B_data_int8_scale": [B_SCALE]})
    with pytest.raises(NcnnlikeError, match=r"layer g \(Gemm\): quantize_term 2 needs int8 weights"):
        run_layers([gemm], {"a": A})
