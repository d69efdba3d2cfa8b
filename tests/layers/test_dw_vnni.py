"""The fast path's own int8 depthwise kernel (layers/dw_vnni.py, _dw_vnni.c): ncnn's arithmetic bit
for bit (the numpy reference of spec 8 and our sim mode), through onnxruntime as a custom op and
called directly; its geometry and buffer checks. Skipped where the CPU lacks AVX512-VNNI/VBMI."""
import numpy as np
import pytest

from helpers import can_build_extensions, layer, run_layers
from ncnnlike.graph import Graph
from ncnnlike.layers import dw_vnni, int8, onnx_bytes
from ncnnlike.layers.base import resolve
from ncnnlike.layers.lowering import UINT8, Node
from ncnnlike.runtime.lower import lower_to_bytes

needs_kernel = pytest.mark.skipif(dw_vnni.library() is None, reason="no AVX512-VNNI/VBMI here, or not built")
S_IN, S_TOP = np.float32(23.7), np.float32(19.3)


def dw_layer(rng, c, k, stride, pads, act, act_params=(), bias=True):
    """A requantizing int8 ConvolutionDepthWise (pads: left, right, top, bottom as ncnn's 4, 15, 14, 16)."""
    kh, kw = k
    w = rng.integers(-127, 128, (c, 1, kh, kw)).astype(np.int8)
    params = {0: c, 1: kw, 11: kh, 3: stride, 4: pads[0], 15: pads[1], 14: pads[2], 16: pads[3], 5: int(bias),
              6: w.size, 7: c, 8: 101, 9: act}
    if act_params:
        params[10] = list(act_params)
    weights = {"weight_data": w.ravel()}
    if bias:
        weights["bias_data"] = rng.normal(0, 3, c).astype(np.float32)
    weights.update(weight_data_int8_scales=rng.uniform(30, 150, c).astype(np.float32),
                   bottom_blob_int8_scales=np.float32([S_IN]), top_blob_int8_scales=np.float32([S_TOP]))
    return layer("ConvolutionDepthWise", "dw", ["x"], ["y"], params, weights)


def reference(l, x, stride, pads, act, act_params):
    """Spec 8 in numpy: q_in, int64 sums, v = acc*scale_in then + bias, activation, float2int8."""
    return reference_q(l, int8.float2int8(x * S_IN), stride, pads, act, act_params)


def reference_q(l, q, stride, pads, act, act_params):
    """`reference` from the int8 bottom q."""
    w = l.weight("weight_data").reshape(q.shape[1], -1)
    c = q.shape[1]
    kh, kw = l.params[11], l.params[1]
    ws = l.weight("weight_data_int8_scales")
    scale_in = int8.scale_in_of(S_IN, ws, c % 8 == 0)
    bias = l.weight("bias_data") if l.params[5] else np.zeros(c, np.float32)
    q = np.pad(q.astype(np.int64), ((0, 0), (0, 0), (pads[2], pads[3]), (pads[0], pads[1])))
    oh, ow = (q.shape[2] - kh) // stride + 1, (q.shape[3] - kw) // stride + 1
    acc = np.zeros((q.shape[0], c, oh, ow), np.int64)
    for i in range(kh):
        for j in range(kw):
            acc += q[:, :, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride] * \
                w[:, i * kw + j].astype(np.int64)[None, :, None, None]
    v = (acc.astype(np.float32) * scale_in[None, :, None, None]).astype(np.float32) + bias[None, :, None, None]
    if act == 1:
        v = np.maximum(v, np.float32(0))
    elif act == 3:
        v = np.clip(v, np.float32(act_params[0]), np.float32(act_params[1]))
    return int8.float2int8(v * S_TOP).astype(np.float32)


CASES = [  # c, (kh, kw), stride, pads (l, r, t, b), act, act params
    (16, (3, 3), 1, (1, 1, 1, 1), 3, (0.0, 6.0)),     # Lite0's: ReLU6, the 127 clamp folded away
    (35, (3, 3), 2, (0, 1, 0, 1), 1, ()),             # a partial channel group, asymmetric pads
    (64, (5, 5), 1, (2, 2, 2, 2), 0, ()),             # no activation: signed rounding
    (8, (5, 5), 2, (1, 2, 2, 1), 3, (-1.5, 2.0)),     # Clip with a negative floor
    (20, (7, 7), 1, (3, 3, 3, 3), 1, ()),             # 7x7: two taps quads a row
    (5, (3, 1), 1, (0, 0, 1, 1), 0, ()),              # a column kernel
    (48, (1, 1), 2, (0, 0, 0, 0), 3, (0.0, 0.5)),     # 1x1: a bound below 127 / S_TOP
]


@needs_kernel
@pytest.mark.parametrize("c,k,stride,pads,act,act_params", CASES)
def test_fast_depthwise_equals_ncnn_bit_for_bit(c, k, stride, pads, act, act_params):
    """The default (fast) mode now runs requantizing depthwise layers on the custom op: every output
    equals the reference and sim mode's, where QLinearConv differed by one on a few."""
    rng = np.random.default_rng(c + 10 * stride + act)
    l = dw_layer(rng, c, k, stride, pads, act, act_params)
    x = rng.normal(0, 2.5, (3, c, 11, 13)).astype(np.float32)
    fast = run_layers([l], {"x": x}, int8=True)["y"]
    np.testing.assert_array_equal(fast, reference(l, x, stride, pads, act, act_params))
    np.testing.assert_array_equal(fast, run_layers([l], {"x": x}, int8="sim")["y"])
    np.testing.assert_array_equal(fast, run_layers([l], {"x": x}, int8=True, threads=2)["y"])   # tasks split
    assert np.abs(fast).max() == 127 or act == 3          # the clamps were reached


@needs_kernel
def test_the_fast_lowering_uses_the_custom_op_and_states_its_output_shape():
    l = dw_layer(np.random.default_rng(0), 24, (3, 3), 2, (1, 1, 1, 1), 1)
    graph = Graph([layer("Input", "in", [], ["x"]), l])
    _, _, ctx, _ = lower_to_bytes(graph, {"x": (24, 10, 9)}, ["y"], int8=True)
    ops = [n for n in ctx.nodes if n.op_type == dw_vnni.OP]
    assert len(ops) == 1 and ops[0].domain == dw_vnni.DOMAIN
    assert (ops[0].output[0], UINT8, ["N", 5, 5, 24]) in ctx.value_infos


@needs_kernel
def test_the_relu6_clip_of_the_conv_before_is_folded_into_the_kernel():
    """conv (ReLU6, requantized) -> depthwise: the depthwise clamps the conv's uint8 output as it reads
    it, and the Clip node goes unless something else reads the conv's top."""
    rng = np.random.default_rng(4)
    c = 24
    w = rng.integers(-127, 128, (c, 8, 1, 1)).astype(np.int8)
    conv = layer("Convolution", "pw", ["x"], ["t"], {0: c, 1: 1, 5: 0, 6: w.size, 8: 101, 9: 3, 10: [0.0, 6.0]},
                 {"weight_data": w.ravel(), "weight_data_int8_scales": rng.uniform(30, 150, c).astype(np.float32),
                  "bottom_blob_int8_scales": np.float32([S_IN]), "top_blob_int8_scales": np.float32([S_TOP])})
    dw = dw_layer(rng, c, (3, 3), 1, (1, 1, 1, 1), 0)
    dw.bottoms = ["t"]
    x = rng.normal(0, 2, (2, 8, 7, 9)).astype(np.float32)
    both = run_layers([conv, dw], {"x": x}, ["t", "y"], int8=True)
    assert both["t"].max() == np.round(6 * S_TOP) and both["t"].min() == 0        # the clamps acted
    np.testing.assert_array_equal(both["y"], reference_q(dw, both["t"], 1, (1, 1, 1, 1), 0, ()))
    np.testing.assert_array_equal(run_layers([conv, dw], {"x": x}, ["y"], int8=True)["y"], both["y"])
    graph = Graph([layer("Input", "in", [], ["x"]), conv, dw])
    _, _, ctx, _ = lower_to_bytes(graph, {"x": (8, 7, 9)}, ["y"], int8=True)
    conv_out = next(n for n in ctx.nodes if n.op_type == "QLinearConv").output[0]
    assert not any(n.op_type == "Clip" and n.input[0] == conv_out for n in ctx.nodes)
    op = next(n for n in ctx.nodes if n.op_type == dw_vnni.OP)
    assert (op.attrs["x_lo"], op.attrs["x_hi"]) == (128, 128 + np.round(6 * S_TOP))


@needs_kernel
@pytest.mark.parametrize("parts", [2, 3, 7, 100])
def test_a_sample_split_into_tasks_gives_the_same_outputs(parts):
    """Tasks take contiguous ranges of output rows (at most one a row: 5 here), each its own ring."""
    rng = np.random.default_rng(parts)
    l = dw_layer(rng, 100, (5, 5), 2, (2, 2, 2, 2), 0)
    L = int8.int8_layer(l, resolve(l), (100, 9, 11))
    x = rng.integers(0, 256, (2, 9, 11, 100)).astype(np.uint8)
    np.testing.assert_array_equal(dw_vnni.run(L, x, (2, 2), (2, 2, 2, 2), parts=parts),
                                  dw_vnni.run(L, x, (2, 2), (2, 2, 2, 2)))


@needs_kernel
def test_direct_call_clamps_its_input_bytes():
    rng = np.random.default_rng(6)
    l = dw_layer(rng, 20, (3, 3), 1, (1, 1, 1, 1), 0)
    L = int8.int8_layer(l, resolve(l), (20, 5, 6))
    x = rng.integers(0, 256, (2, 5, 6, 20)).astype(np.uint8)
    np.testing.assert_array_equal(dw_vnni.run(L, x, (1, 1), (1, 1, 1, 1), (100, 180)),
                                  dw_vnni.run(L, np.clip(x, 100, 180), (1, 1), (1, 1, 1, 1)))


@needs_kernel
def test_direct_call_checks_its_buffers_and_geometry():
    from ncnnlike.layers import _dw_vnni
    wv, scale, bias, corr = np.zeros(192, np.int8), np.ones(16, np.float32), np.zeros(16, np.float32), \
        np.zeros(16, np.int32)
    x, y = np.zeros((1, 4, 4, 16), np.uint8), np.zeros((1, 2, 2, 16), np.uint8)
    geometry, act = (1, 4, 4, 16, 3, 3, 1, 1, 0, 0, 2, 2, 0, 0, 255, 1), (0.0, 6.0, 1.0)
    _dw_vnni.run(x, wv, scale, bias, corr, y, geometry, act)
    assert np.all(y == 128)                                  # q = 0 everywhere
    with pytest.raises(TypeError, match="wv must be a contiguous buffer of 192"):
        _dw_vnni.run(x, wv[:191], scale, bias, corr, y, geometry, act)
    with pytest.raises(TypeError, match="y must be"):
        _dw_vnni.run(x, wv, scale, bias, corr, np.zeros((1, 3, 3, 16), np.uint8), geometry, act)
    with pytest.raises(ValueError, match="geometry"):
        _dw_vnni.run(x, wv, scale, bias, corr, y, (1, 4, 4, 16, 17, 3, 1, 1, 0, 0, 2, 2, 0, 0, 255, 1), act)
    with pytest.raises(ValueError, match="geometry"):
        _dw_vnni.run(x, wv, scale, bias, corr, y, (1, 4, 4, 16, 3, 3, 0, 1, 0, 0, 2, 2, 0, 0, 255, 1), act)
    with pytest.raises(ValueError, match="x_lo <= x_hi"):
        _dw_vnni.run(x, wv, scale, bias, corr, y, (1, 4, 4, 16, 3, 3, 1, 1, 0, 0, 2, 2, 0, 9, 8, 1), act)


@needs_kernel
def test_the_op_outputs_nothing_for_an_input_its_weights_do_not_fit():
    """This ABI version gives a kernel no way to fail: a mismatched input gives an empty output (the
    next node refuses it), never a read past the weights."""
    import onnxruntime as ort
    rng = np.random.default_rng(1)
    l = dw_layer(rng, 16, (3, 3), 1, (1, 1, 1, 1), 1)
    L = int8.int8_layer(l, resolve(l), (16, 6, 6))
    inits = [("c%d" % i, a) for i, a in enumerate(dw_vnni.constants(L))]
    lo, hi, bounded = dw_vnni.activation_bounds(L)
    node = Node(dw_vnni.OP, ["x"] + [n for n, _ in inits], ["y"],
                dict(domain=dw_vnni.DOMAIN, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                     act_lo=np.float32(lo), act_hi=np.float32(hi), s_top=np.float32(L.s_top), bounded=bounded), "dw")
    model, _ = onnx_bytes.model([node], [("x", UINT8, ["N", "H", "W", "C"])], ["y"], inits,
                                [("", 17), (dw_vnni.DOMAIN, 1)], 8)
    so = ort.SessionOptions()
    dw_vnni.register(so)
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    x = rng.integers(0, 256, (2, 6, 6, 16)).astype(np.uint8)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], dw_vnni.run(L, x, (1, 1), (1, 1, 1, 1)))
    assert sess.run(None, {"x": np.zeros((2, 6, 6, 32), np.uint8)})[0].size == 0


def test_largest_below_128_is_the_last_float_that_rounds_to_127():
    for s_top in (19.3, 0.37, 1e-3, 127.0, 3e5):
        top = np.float32(dw_vnni.largest_below_128(s_top))
        q = lambda v: np.trunc(np.float32(np.float32(v) * np.float32(s_top)) + np.float32(0.5))  # noqa: E731
        assert q(top) <= 127 < q(np.nextafter(top, np.float32(np.inf)))


@pytest.mark.skipif(not can_build_extensions(), reason="no C compiler or no Python headers here")
def test_the_compiled_kernel_is_built():
    from ncnnlike.layers import _dw_vnni
    assert isinstance(_dw_vnni.supported(), bool)
