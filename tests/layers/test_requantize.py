"""Requantize: q = float2int8(activation(int * scale_in + bias) * scale_out); against pip ncnn fed an
int32 Mat (what its Requantize reads), the int8 values exact."""
import numpy as np
import pytest
from int8_ref import float2int8, fma, outer
from oracle import check_ncnn

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.activation import apply_fused
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
EXACT = dict(atol=0, rtol=0, int8=True)
SHAPES = [(37,), (3, 5), (8, 3), (16, 2, 3), (5, 7, 3), (3, 2, 3, 5), (8, 2, 2, 3)]
# activation_type, activation_params (old-style float arrays: ncnn types new-style ones by their first value)
ACTIVATIONS = [(0, ""), (1, ""), (2, " -23304=1,1.000000e-01"), (3, " -23304=2,-5.000000e-01,7.000000e-01"),
               (4, ""), (5, ""), (6, " -23304=2,2.000000e-01,5.000000e-01")]
PARAMS = {0: [], 1: [], 2: [0.1], 3: [-0.5, 0.7], 4: [], 5: [], 6: [0.2, 0.5]}


def acc(shape):
    return RNG.integers(-20000, 20000, shape).astype(np.int32)


def reference(x, shape, scale_in, scale_out, bias, act):
    v = fma(x, outer(scale_in, shape), outer(bias, shape))
    v = apply_fused(v, act, PARAMS[act])
    return float2int8(v * outer(scale_out, shape))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("act,params", ACTIVATIONS)
def test_requantize_with_each_fused_activation_matches_ncnn(tmp_path, shape, act, params):
    x = acc(shape)
    w = {"scale_in_data": [1e-4], "scale_out_data": [90.0], "bias_data": [0.1]}
    ours, _ = check_ncnn("Input in 0 1 x\nRequantize r 1 1 x y 2=1 3=%d%s" % (act, params), {"x": x}, tmp_path,
                         weights={"r": w}, **EXACT)["y"]
    if act in (0, 1, 2, 3):   # sigmoid, mish, hardswish: ncnn's own SIMD maths, checked against ncnn only
        np.testing.assert_array_equal(ours[0], reference(x, shape, 1e-4, 90.0, 0.1, act))


@pytest.mark.parametrize("shape", SHAPES)
def test_requantize_without_bias_matches_ncnn(tmp_path, shape):
    x = acc(shape)
    ours, _ = check_ncnn("Input in 0 1 x\nRequantize r 1 1 x y", {"x": x}, tmp_path,
                         weights={"r": {"scale_in_data": [1e-4], "scale_out_data": [60.0]}}, **EXACT)["y"]
    v = x.astype(np.float32) * np.float32(1e-4)
    np.testing.assert_array_equal(ours[0], float2int8(v * np.float32(60)))


@pytest.mark.parametrize("shape", [(3, 5), (8, 3), (16, 2, 3), (5, 7, 3), (3, 2, 3, 5), (8, 2, 2, 3)])
def test_requantize_per_row_or_channel_matches_ncnn(tmp_path, shape):
    n = shape[0]
    x = acc(shape)
    w = {"scale_in_data": RNG.uniform(1e-4, 2e-4, n), "scale_out_data": RNG.uniform(30, 90, n),
         "bias_data": RNG.normal(0, 1, n)}
    ours, _ = check_ncnn("Input in 0 1 x\nRequantize r 1 1 x y 0=%d 1=%d 2=%d 3=1" % (n, n, n), {"x": x}, tmp_path,
                         weights={"r": w}, **EXACT)["y"]
    f = {k: np.float32(v) for k, v in w.items()}
    np.testing.assert_array_equal(ours[0], reference(x, shape, f["scale_in_data"], f["scale_out_data"],
                                                     f["bias_data"], 1))


@pytest.mark.parametrize("shape", [(4, 3, 5), (12, 3, 5), (4, 5)])
def test_pip_ncnn_per_channel_requantize_of_packs_of_4_uses_lane_0_values(tmp_path, shape):
    """pip ncnn's bug (requantize.py): 4 or 12 channels (or rows) pack by 4 on x86, and its kernel then
    gives lanes 1-3 of each pack the scale_in, scale_out and bias of lane 0. Ours uses each one's own."""
    channels = shape[0]
    x = acc(shape)
    w = {k: RNG.uniform(*r, channels).astype(np.float32)
         for k, r in (("scale_in_data", (1e-4, 2e-4)), ("scale_out_data", (30, 90)), ("bias_data", (-1, 1)))}
    text = "Input in 0 1 x\nRequantize r 1 1 x y 0=%d 1=%d 2=%d" % (channels, channels, channels)
    ours, theirs = check_ncnn(text, {"x": x}, tmp_path, weights={"r": w}, atol=255, batch=1, int8=True)["y"]
    np.testing.assert_array_equal(ours[0], reference(x, shape, w["scale_in_data"], w["scale_out_data"],
                                                     w["bias_data"], 0))
    lane0 = {k: np.repeat(v[::4], 4) for k, v in w.items()}
    np.testing.assert_array_equal(theirs[0], reference(x, shape, lane0["scale_in_data"], lane0["scale_out_data"],
                                                       lane0["bias_data"], 0))


def test_requantized_blob_feeds_an_int8_convolution_as_is(tmp_path):
    """Input (int32) -> Requantize -> int8 Convolution: the Convolution takes the int8 blob as is."""
    text = """
    Input        in0 0 1 x
    Requantize   r   1 1 x xq 2=1 3=1
    Convolution  c   1 1 xq y 0=4 1=3 4=1 5=1 6=288 8=2 9=2 -23310=1,1.000000e-01
    """
    w = {"r": {"scale_in_data": [1e-4], "scale_out_data": [40.0], "bias_data": [-0.2]},
         "c": {"bottom_blob_int8_scales": [40.0]}}
    check_ncnn(text, {"x": acc((8, 6, 5))}, tmp_path, outputs=["xq", "y"], weights=w, int8=True, atol=1e-5)


def test_quantize_requantize_dequantize_chain_uses_the_int8_values():
    """Input -> Quantize -> Requantize -> Dequantize: each int8 blob is read as its values q (pip ncnn
    reads them as int32 and overruns the Mats, so only a numpy reference here)."""
    x = RNG.uniform(-3, 3, (2, 3, 4, 5)).astype(np.float32)
    y = run_layers([
        layer("Quantize", "q", ["x"], ["q1"], {}, {"scale_data": np.float32([40])}),
        layer("Requantize", "r", ["q1"], ["q2"], {2: 1, 3: 2, 4: [0.25]},
              {"scale_in_data": np.float32([1 / 40]), "scale_out_data": np.float32([30]),
               "bias_data": np.float32([0.5])}),
        layer("Dequantize", "d", ["q2"], ["y"], {}, {"scale_data": np.float32([1 / 30])})], {"x": x})["y"]
    q1 = float2int8(x * np.float32(40))
    v = apply_fused(fma(q1, np.float32(1 / 40), np.float32(0.5)), 2, [0.25])
    q2 = float2int8(v * np.float32(30))
    np.testing.assert_array_equal(y, q2 * np.float32(1 / 30))


def test_bin_holds_scale_in_scale_out_then_bias_raw():
    assert specs({}) == [("scale_in_data", 1, False), ("scale_out_data", 1, False)]
    assert specs({0: 8, 1: 1, 2: 8}) == [("scale_in_data", 8, False), ("scale_out_data", 1, False),
                                         ("bias_data", 8, False)]


def test_scale_out_count_must_match_channels_and_activation_must_exist():
    w = {"scale_in_data": np.ones(1, np.float32), "scale_out_data": np.ones(3, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer r \\(Requantize\\): 3 values in scale_out_data.*c axis has 4"):
        run_layers([layer("Requantize", "r", ["x"], ["y"], {1: 3}, w)], {"x": np.zeros((1, 4, 2, 2), np.float32)})
    w = {"scale_in_data": np.ones(1, np.float32), "scale_out_data": np.ones(1, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer r \\(Requantize\\).*activation_type 9"):
        run_layers([layer("Requantize", "r", ["x"], ["y"], {3: 9}, w)], {"x": np.zeros((1, 4, 2, 2), np.float32)})


def specs(params):
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer("Requantize", "r", ["x"], ["y"], params))]
