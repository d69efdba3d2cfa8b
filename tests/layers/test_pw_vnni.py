"""The fast path's own kernel for 1x1 convolutions with a float top (layers/pw_vnni.py,
_pw_vnni_kernel.h): ncnn's arithmetic bit for bit (sim mode: one fma, then the activation),
through onnxruntime at 1 and 2 threads and called directly; its checks. Skipped where the CPU
lacks AVX512-VNNI/VBMI."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.graph import Graph
from ncnnlike.layers import int8, pw_vnni
from ncnnlike.layers.base import resolve
from ncnnlike.runtime.lower import lower_to_bytes

needs_kernel = pytest.mark.skipif(pw_vnni.dw_vnni.library() is None, reason="no AVX512-VNNI/VBMI here, or not built")


def int8_params(rng, k, n, act, act_params, bias, params):
    """(params, weights) of an int8 layer of n outputs over k inputs: random int8 weights, their
    scales, an input scale, the activation and its params added to `params`."""
    params = {**params, 9: act}
    if act_params:
        params[10] = list(act_params)
    weights = {"weight_data": rng.integers(-127, 128, (n, k)).astype(np.int8).ravel(),
               "weight_data_int8_scales": rng.uniform(30, 150, n).astype(np.float32),
               "bottom_blob_int8_scales": np.float32([23.7])}
    if bias:
        weights["bias_data"] = rng.normal(0, 3, n).astype(np.float32)
    return params, weights


def conv1x1(rng, k, n, act, act_params=(), bias=True, term=1, name="pw"):
    """An int8 1x1 Convolution with a float top (term 1) or a requantized one (term 101)."""
    params, weights = int8_params(rng, k, n, act, act_params, bias, {0: n, 1: 1, 5: int(bias), 6: n * k, 8: term})
    if term > 100:
        weights["top_blob_int8_scales"] = np.float32([19.3])
    return layer("Convolution", name, ["x"], ["y"], params, weights)


CASES = [  # inputs, outputs, activation, params, bias
    (16, 24, 0, (), True),          # Lite0's projections: no activation
    (4, 1, 1, (), False),           # one output channel, no bias
    (36, 17, 3, (-0.5, 2.0), True),  # a partial block of 16, Clip with a negative floor
    (100, 40, 1, (), True),
]


@needs_kernel
@pytest.mark.parametrize("k,n,act,act_params,bias", CASES)
def test_float_top_1x1_equals_sim_mode_bit_for_bit(k, n, act, act_params, bias):
    rng = np.random.default_rng(k + n)
    l = conv1x1(rng, k, n, act, act_params, bias)
    x = rng.normal(0, 2, (2, k, 5, 7)).astype(np.float32)      # 35 pixels: five tiles of 6 and one pixel
    sim = run_layers([l], {"x": x}, int8="sim")["y"]
    for threads in (1, 2):
        np.testing.assert_array_equal(run_layers([l], {"x": x}, int8=True, threads=threads)["y"], sim)


@needs_kernel
def test_only_float_tops_go_to_the_kernel():
    rng = np.random.default_rng(3)
    graph = Graph([layer("Input", "in", [], ["x"]), conv1x1(rng, 8, 16, 0),
                   conv1x1(rng, 8, 16, 1, term=101, name="req")])
    graph.layers[2].bottoms, graph.layers[2].tops = ["x"], ["z"]
    _, _, ctx, _ = lower_to_bytes(graph, {"x": (8, 3, 4)}, ["y", "z"], int8=True)
    ops = [n for n in ctx.nodes if n.op_type in (pw_vnni.OP, "QLinearConv")]
    assert [n.op_type for n in ops] == [pw_vnni.OP, "QLinearConv"]
    assert (ops[0].output[0], 1, ["N", 3, 4, 16]) in ctx.value_infos


@needs_kernel
def test_direct_call_checks_its_buffers_and_geometry():
    from ncnnlike.layers import _dw_vnni
    l = conv1x1(np.random.default_rng(1), 8, 20, 0)
    L = int8.int8_layer(l, resolve(l), (8, 1, 3))
    x = np.full((1, 1, 3, 8), 128, np.uint8)                      # q = 0: v is the bias
    np.testing.assert_array_equal(pw_vnni.run(L, x)[0, 0], np.tile(L.bias, (3, 1)))
    w, scale, bias, corr = pw_vnni.constants(L)
    y = np.empty((3, 20), np.float32)
    with pytest.raises(TypeError, match="w must be a contiguous buffer of 256"):
        _dw_vnni.pointwise(x, w[:-1], scale, bias, corr, y, (3, 8, 20), (-1e30, 1e30))
    with pytest.raises(ValueError, match="multiple of 4"):
        _dw_vnni.pointwise(x, w, scale, bias, corr, y, (4, 6, 20), (-1e30, 1e30))


def innerproduct(rng, k, n, act, act_params=(), bias=True):
    """An int8 InnerProduct (always a float top)."""
    params, weights = int8_params(rng, k, n, act, act_params, bias, {0: n, 1: int(bias), 2: n * k, 8: 1})
    return layer("InnerProduct", "ip", ["x"], ["y"], params, weights)


@needs_kernel
@pytest.mark.parametrize("k,n,act,act_params,bias", CASES + [(1280, 1000, 0, (), True)])
@pytest.mark.parametrize("shape", ["flat", "rows", "chw"])
def test_innerproduct_equals_sim_mode_bit_for_bit_in_two_roundings(k, n, act, act_params, bias, shape):
    """ncnn's InnerProduct dequantizes in a mul and an add (the op's fma=0), not one fma as its conv:
    the kernel follows it on a flat bottom, on rows (h, w == num_input) and on a (c, h, w) bottom
    flattened (Lite0's classifier: 1280 -> 1000)."""
    rng = np.random.default_rng(k * n)
    l = innerproduct(rng, k, n, act, act_params, bias)
    x = {"flat": rng.normal(0, 2, (3, k)), "rows": rng.normal(0, 2, (2, 5, k)),
         "chw": rng.normal(0, 2, (2, k // 4, 2, 2))}[shape].astype(np.float32)
    sim = run_layers([l], {"x": x}, int8="sim")["y"]
    for threads in (1, 2):
        np.testing.assert_array_equal(run_layers([l], {"x": x}, int8=True, threads=threads)["y"], sim)
    graph = Graph([layer("Input", "in", [], ["x"]), l])
    _, _, ctx, _ = lower_to_bytes(graph, {"x": x.shape[1:]}, ["y"], int8=True)
    assert [n.op_type for n in ctx.nodes if n.op_type in (pw_vnni.OP, "MatMulIntegerToFloat")] == [pw_vnni.OP]
    L = int8.int8_layer(l, resolve(l), x.shape[1:])
    q = rng.integers(0, 256, (1, 1, 7, k)).astype(np.uint8)
    acc = (q.astype(np.int64) - 128) @ L.weight.reshape(n, k).astype(np.int64).T
    f = acc.astype(np.float32) * np.float32(L.scale_in) + (0 if L.bias is None else L.bias)     # two roundings
    lo, hi, _ = pw_vnni.dw_vnni.activation_bounds(L, requantized=False)
    np.testing.assert_array_equal(pw_vnni.run(L, q), np.clip(f, np.float32(lo), np.float32(hi)))
