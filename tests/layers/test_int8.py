"""int8 Convolution / ConvolutionDepthWise / InnerProduct vs a numpy reference of spec 8 steps 1-7:
the exact lowering bit for bit, the fast lowering within its documented deviation (int8_fast.py)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import int8, int8_fast

S_IN, S_TOP = np.float32(23.7), np.float32(19.3)


# ------------------------------------------------------------------ the numpy reference (spec 7, 8)

def ref_float2int8(x):
    """Spec 7.2: clamp(trunc(x + copysign(0.5, x)), -127, 127) in float32."""
    x = np.asarray(x, np.float32)
    return np.clip(np.trunc(x + np.copysign(np.float32(0.5), x)), -127, 127)


def ref_acc(q, w, stride, pads, group, pad_value=0):
    """Step 2-3: pad the int8 tensor with pad_value, int64 sums of q*w. q (c, h, w); w (oc, c/g, kh, kw)."""
    q = np.pad(q.astype(np.int64), ((0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=pad_value)
    oc, cg, kh, kw = w.shape
    oh, ow = (q.shape[1] - kh) // stride + 1, (q.shape[2] - kw) // stride + 1
    acc = np.zeros((oc, oh, ow), np.int64)
    for o in range(oc):
        g = o // (oc // group)
        for i in range(kh):
            for j in range(kw):
                patch = q[g * cg:(g + 1) * cg, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride]
                acc[o] += np.tensordot(w[o, :, i, j].astype(np.int64), patch, axes=1)
    return acc


def ref_tail(acc, scale_in, bias, act, s_top, fma, shape):
    """Steps 4-7: v = acc*scale_in + bias (fma: one rounding, as ncnn's x86 Convolution), activation,
    requantize (the int8 values, as ncnn extracts them) when s_top is given."""
    scale_in, bias = scale_in.reshape(shape), bias.reshape(shape)
    if fma:
        v = (acc.astype(np.float64) * scale_in.astype(np.float64) + bias).astype(np.float32)
    else:
        v = (acc.astype(np.float32) * scale_in).astype(np.float32) + bias
    if act == 1:
        v = np.maximum(v, 0)
    elif act == 3:
        v = np.clip(v, np.float32(0), np.float32(6))
    return v if s_top is None else ref_float2int8(v * s_top)


def ref_scale_in(w_scale, rcp=None):
    with np.errstate(divide="ignore"):
        d = (S_IN * w_scale).astype(np.float32)
        s = np.float32(1) / d if rcp is None else np.array([rcp(float(v)) for v in d], np.float32)
    return np.where(w_scale == 0, np.float32(0), s).astype(np.float32)


# ------------------------------------------------------------------ building layers

def conv_case(rng, c, oc, k, stride, pad, bias, act, term, dw=False, w_max=127):
    """(layer, numpy reference of its output for the float input x)."""
    group = c if dw else 1
    w = rng.integers(-w_max, w_max + 1, (oc, c // group, k, k)).astype(np.int8)
    n_scales = group if dw else oc
    ws = rng.uniform(30, 150, n_scales).astype(np.float32)
    params = {0: oc, 1: k, 3: stride, 4: pad, 5: int(bias), 6: w.size, 8: term, 9: act}
    if act == 3:
        params[10] = [0.0, 6.0]
    if dw:
        params[7] = group
    weights = {"weight_data": w.ravel()}
    b = rng.normal(0, 2, oc).astype(np.float32)
    if bias:
        weights["bias_data"] = b
    weights.update(weight_data_int8_scales=ws, bottom_blob_int8_scales=np.float32([S_IN]))
    if term > 100:
        weights["top_blob_int8_scales"] = np.float32([S_TOP])
    l = layer("ConvolutionDepthWise" if dw else "Convolution", "conv", ["x"], ["y"], params, weights)

    def reference(x, rcp=None):
        q = ref_float2int8(x * S_IN)
        w_scale_out = np.repeat(ws, oc // n_scales)
        out = []
        for qi in q:
            acc = ref_acc(qi, w, stride, [pad] * 4, group)
            out.append(ref_tail(acc, ref_scale_in(w_scale_out, rcp), b if bias else np.zeros(oc, np.float32), act,
                                S_TOP if term > 100 else None, fma=not dw, shape=(-1, 1, 1)))
        return np.stack(out)
    return l, reference


def run(l, x, mode):
    return run_layers([l], {"x": x}, int8=mode)["y"]


def ulps(a, b):
    return np.abs(a.astype(np.float32).view(np.int32).astype(np.int64) - b.astype(np.float32).view(np.int32))


CONV_CASES = [  # c, oc, k, stride, pad, bias, act, term[, w_max: 31 = ncnn's 6-bit 3x3, to u8 x s8 kernels]
    (5, 6, 3, 1, 1, True, 0, 102),
    (5, 6, 3, 1, 1, True, 1, 102, 31),
    (5, 6, 3, 1, 1, False, 1, 2),
    (7, 9, 1, 1, 0, True, 3, 102),
    (7, 9, 1, 1, 0, True, 0, 2),
    (4, 8, 3, 2, 1, True, 3, 2),
    (4, 8, 3, 2, 1, False, 1, 102),
    (3, 16, 3, 2, 1, True, 3, 102),       # a 3-channel stem: the fast kernels take a zero 4th channel
    (3, 16, 3, 1, 1, True, 1, 102, 31),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution_exact_lowering_equals_the_reference_bit_for_bit(case):
    rng = np.random.default_rng(sum(case[:5]))
    l, reference = conv_case(rng, *case[:8], w_max=case[8] if len(case) > 8 else 127)
    x = rng.normal(0, 2, (2, case[0], 9, 11)).astype(np.float32)
    y, ref = run(l, x, "sim"), reference(x)
    assert y.shape == ref.shape
    if case[7] > 100:
        np.testing.assert_array_equal(y, ref)
        assert np.abs(y).max() <= 127 and np.any(y != 0)
    else:
        assert ulps(y, ref).max() <= 1


@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution_fast_lowering_is_within_the_documented_deviation(case):
    """Requantized: off by at most 1 (the bias rounded to the accumulator unit); float: 1 ulp."""
    rng = np.random.default_rng(sum(case[:5]))
    l, reference = conv_case(rng, *case[:8], w_max=case[8] if len(case) > 8 else 127)
    x = rng.normal(0, 2, (2, case[0], 9, 11)).astype(np.float32)
    y, ref = run(l, x, True), reference(x)
    if case[7] > 100:
        assert np.abs(y - ref).max() <= 1
        assert np.mean(y != ref) < 0.02
    else:   # acc*scale_in rounded before + bias, where ncnn's x86 Convolution rounds the fma once
        b = l.weight("bias_data").reshape(-1, 1, 1) if case[5] else np.float32(0)
        assert np.all(np.abs(y - ref) <= np.spacing(np.abs(ref - b)) + np.spacing(np.abs(ref)))


@pytest.mark.parametrize("c,term,act", [(6, 101, 3), (6, 1, 1), (16, 101, 1), (16, 1, 0)])
def test_depthwise_per_group_scales_exact_and_fast(c, term, act):
    """Per-group weight scales; 16 channels take ncnn's packed x86 kernel (rcp scale_in), 6 do not."""
    rng = np.random.default_rng(c + term)
    l, reference = conv_case(rng, c, c, 3, 1, 1, True, act, term, dw=True)
    x = rng.normal(0, 2, (2, c, 8, 7)).astype(np.float32)
    ref = reference(x, int8.x86_rcp() if c % 8 == 0 else None)
    y, fast = run(l, x, "sim"), run(l, x, "fast")
    if term > 100:
        np.testing.assert_array_equal(y, ref)
        assert np.abs(fast - ref).max() <= 1 and np.mean(fast != ref) < 0.02
    else:
        assert ulps(y, ref).max() <= 1 and ulps(fast, ref).max() <= 1


def test_packed_depthwise_scale_in_is_the_cpu_reciprocal():
    """ncnn's x86 packed depthwise kernel uses _mm_rcp_ps (12 bits), not 1/x: measured on Lite0."""
    rcp = int8.x86_rcp()
    if rcp is None:
        pytest.skip("not an x86-64 CPU with pip ncnn")
    approx = rcp(2270.6)
    assert approx != np.float32(1) / np.float32(2270.6)
    assert abs(approx * 2270.6 - 1) < 2 ** -11


@pytest.mark.parametrize("w_max", [127, 64])
def test_innerproduct_exact_and_fast_equal_the_reference(w_max):
    """InnerProduct (term 2): acc*scale_in then + bias in two roundings (ncnn's x86 kernel)."""
    rng = np.random.default_rng(7)
    w = rng.integers(-w_max, w_max + 1, (10, 48)).astype(np.int8)
    ws = rng.uniform(30, 150, 10).astype(np.float32)
    b = rng.normal(0, 1, 10).astype(np.float32)
    l = layer("InnerProduct", "fc", ["x"], ["y"], {0: 10, 1: 1, 2: w.size, 8: 2, 9: 1},
              {"weight_data": w.ravel(), "bias_data": b, "weight_data_int8_scales": ws,
               "bottom_blob_int8_scales": np.float32([S_IN])})
    x = rng.normal(0, 2, (3, 3, 4, 4)).astype(np.float32)
    q = ref_float2int8(x.reshape(3, 48) * S_IN).astype(np.int64)
    ref = ref_tail(q @ w.T.astype(np.int64), ref_scale_in(ws), b, 1, None, fma=False, shape=(1, -1))
    for mode in ("sim", "fast"):
        np.testing.assert_array_equal(run(l, x, mode), ref)


def test_chained_requantized_layers_pass_int8_without_float():
    """conv 102 -> conv 2: the consumer takes the uint8 tensor as is (spec 6.5), same result as the
    reference that feeds the first layer's int8 output into the second."""
    rng = np.random.default_rng(3)
    l1, ref1 = conv_case(rng, 4, 6, 3, 1, 1, True, 1, 102)
    l2, _ = conv_case(rng, 6, 5, 1, 1, 0, True, 0, 2)
    l1.tops, l2.bottoms = ["mid"], ["mid"]
    x = rng.normal(0, 2, (2, 4, 6, 6)).astype(np.float32)
    out = run_layers([l1, l2], {"x": x}, ["mid", "y"], int8="sim")
    q_mid = ref1(x)
    np.testing.assert_array_equal(out["mid"], q_mid)
    p2 = l2.weight("weight_data").reshape(5, 6, 1, 1).astype(np.int8)
    ref = np.stack([ref_tail(ref_acc(q, p2, 1, [0] * 4, 1), ref_scale_in(l2.weight("weight_data_int8_scales")),
                             l2.weight("bias_data"), 0, None, True, (-1, 1, 1)) for q in q_mid])
    assert ulps(out["y"], ref).max() <= 1


def test_float_bottom_ties_round_half_away_from_zero_in_the_exact_lowering():
    """x*s_in = k + 0.5 exactly: ncnn rounds away from zero (-2.5 -> -3, 2.5 -> 3)."""
    w = np.ones((1, 1, 1, 1), np.int8)
    l = layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 1, 6: 1, 8: 102},
              {"weight_data": w.ravel(), "weight_data_int8_scales": np.float32([1.0]),
               "bottom_blob_int8_scales": np.float32([1.0]), "top_blob_int8_scales": np.float32([1.0])})
    x = np.float32([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 130.0, -300.0]).reshape(1, 1, 1, 8)
    np.testing.assert_array_equal(run(l, x, "sim").ravel(), [-3, -2, -1, 1, 2, 3, 127, -127])


def test_pad_value_is_cast_to_int8_not_scaled():
    """Spec 8.2 QUIRK: padding after quantization with (int8)pad_value (here 3.7 -> 3)."""
    w = np.ones((1, 1, 3, 3), np.int8)
    params = {0: 1, 1: 3, 4: 1, 18: 3.7, 6: 9, 8: 2}
    weights = {"weight_data": w.ravel(), "weight_data_int8_scales": np.float32([1.0]),
               "bottom_blob_int8_scales": np.float32([1.0])}
    l = layer("Convolution", "c", ["x"], ["y"], params, weights)
    x = np.zeros((1, 1, 3, 3), np.float32)
    expected = np.float32([[5, 3, 5], [3, 0, 3], [5, 3, 5]]) * 3   # pad cells in each window * 3
    for mode in ("sim", "fast"):
        np.testing.assert_array_equal(run(l, x, mode)[0, 0], expected)


def test_pad_value_and_the_fast_paths_zero_input_channel_pad_together():
    """A requantized 3-channel conv with a pad_value: the fast lowering pads the border with
    (int8)pad_value and appends a 4th input channel (int8_fast.channel_padding) in one Pad; the
    added channel's zero weights make its fill irrelevant, the border is ncnn's."""
    w = np.ones((16, 3, 3, 3), np.int8)
    params = {0: 16, 1: 3, 4: 1, 18: -5.2, 6: w.size, 8: 101}
    weights = {"weight_data": w.ravel(), "weight_data_int8_scales": np.full(16, 1.0, np.float32),
               "bottom_blob_int8_scales": np.float32([1.0]), "top_blob_int8_scales": np.float32([1.0])}
    l = layer("Convolution", "c", ["x"], ["y"], params, weights)
    x = np.ones((1, 3, 3, 3), np.float32)
    border = np.float32([[5, 3, 5], [3, 0, 3], [5, 3, 5]])       # pad cells in each window
    expected = 3 * (np.float32(9) - border + border * -5)
    for mode in ("sim", "fast"):
        np.testing.assert_array_equal(run(l, x, mode)[0], np.broadcast_to(expected, (16, 3, 3)))


def test_float_weights_with_scales_are_quantized_at_load_like_int8_weights():
    rng = np.random.default_rng(5)
    l, _ = conv_case(rng, 3, 4, 3, 1, 1, True, 0, 102)
    wq = l.weights["weight_data"].astype(np.float32).reshape(4, -1)
    ws = l.weight("weight_data_int8_scales")
    as_float = layer(l.type, "c", ["x"], ["y"], l.params, dict(l.weights, weight_data=(wq / ws[:, None]).ravel()))
    x = rng.normal(0, 2, (1, 3, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(run(as_float, x, "sim"), run(l, x, "sim"))


def test_int8_off_runs_stored_int8_as_a_float_view_and_float_weights_as_float():
    rng = np.random.default_rng(6)
    l, _ = conv_case(rng, 3, 4, 1, 1, 0, True, 0, 102)
    x = rng.normal(0, 1, (1, 3, 2, 2)).astype(np.float32)
    ws = l.weight("weight_data_int8_scales")
    w = l.weights["weight_data"].astype(np.float32).reshape(4, 3) / ws[:, None]
    expected = np.einsum("oc,nchw->nohw", w, x) + l.weight("bias_data").reshape(1, -1, 1, 1)
    np.testing.assert_allclose(run(l, x, False), expected, rtol=1e-5, atol=1e-5)
    l.weights["weight_data"] = w.ravel()
    np.testing.assert_allclose(run(l, x, False), expected, rtol=1e-5, atol=1e-5)


def test_depthwise_term_without_scales_is_a_clear_error():
    l = layer("ConvolutionDepthWise", "dw", ["x"], ["y"], {0: 2, 1: 1, 6: 2, 7: 2, 8: 3},
              {"weight_data": np.ones(2, np.int8)})
    with pytest.raises(NcnnlikeError, match="int8_scale_term"):
        run(l, np.zeros((1, 2, 3, 3), np.float32), True)


def test_u8s8_weights_only_where_the_kernel_cannot_saturate():
    """6-bit weights always go to u8 x s8; 8-bit ones only when the probe finds the kernel exact."""
    small = int8.Int8Layer("a", "conv", np.full((2, 2, 1, 1), 64, np.int8), None, None, 1, None, None, 0, [])
    large = int8.Int8Layer("b", "conv", np.full((2, 2, 1, 1), 127, np.int8), None, None, 1, None, None, 0, [])
    assert int8_fast.weights_u8s8(small, False)
    assert int8_fast.weights_u8s8(large, False) == int8_fast.u8s8_exact(False)


def test_channel_with_huge_weight_scale_or_zero_scale_gives_its_requantized_bias():
    """scale_in ~1e-10 (a near-zero channel calibrated to w_scale 5e7) puts bias/scale_in beyond int32,
    and w_scale 0 gives scale_in 0: v is the bias alone, in both lowerings (measured on Lite0 convclip_0)."""
    w = np.array([[1, -2, 3], [5, 6, -7], [1, 1, 1]], np.int8).reshape(3, 3, 1, 1)
    ws = np.float32([5.2e7, 40.0, 0.0])
    b = np.float32([2.5, -1.0, 3.3])
    l = layer("Convolution", "c", ["x"], ["y"], {0: 3, 1: 1, 5: 1, 6: 9, 8: 102, 9: 0},
              {"weight_data": w.ravel(), "bias_data": b, "weight_data_int8_scales": ws,
               "bottom_blob_int8_scales": np.float32([S_IN]), "top_blob_int8_scales": np.float32([S_TOP])})
    x = np.random.default_rng(9).normal(0, 2, (1, 3, 4, 4)).astype(np.float32)
    acc = np.einsum("oc,chw->ohw", w[:, :, 0, 0].astype(np.int64), ref_float2int8(x[0] * S_IN).astype(np.int64))
    ref = ref_tail(acc, ref_scale_in(ws), b, 0, S_TOP, fma=True, shape=(-1, 1, 1))
    np.testing.assert_array_equal(ref[0], ref_float2int8(b[0] * S_TOP))
    np.testing.assert_array_equal(ref[2], ref_float2int8(b[2] * S_TOP))
    np.testing.assert_array_equal(run(l, x, "sim")[0], ref)
    assert np.abs(run(l, x, True)[0] - ref).max() <= 1
