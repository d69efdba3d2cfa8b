"""Quantize: q = float2int8(x * scale), one scale or one per row / channel, int8 top extracted as
its values q; against pip ncnn (use_int8_inference on) with the int8 values exact."""
import numpy as np
import pytest
from int8_ref import float2int8, fma, outer
from oracle import check_ncnn

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
EXACT = dict(atol=0, rtol=0, int8=True)
BELOW_HALF = np.nextafter(np.float32(0.5), np.float32(0))   # 0.49999997


def test_quantize_rounds_half_away_from_zero_and_saturates_at_127(tmp_path):
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, -126.5, 127.5, -127.5, 300, -300,
                  0.50000006, -0.25, 0, -0.0], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y", {"x": x}, tmp_path, batch=1,
                         weights={"q": {"scale_data": [1.0]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], [1, 2, 3, -1, -2, -3, 127, -127, 127, -127, 127, -127, 1, 0, 0, 0])


@pytest.mark.parametrize("shape", [(37,), (3, 5), (8, 3), (4, 3, 5), (12, 1, 3), (16, 2, 3), (3, 2, 3, 5),
                                   (8, 2, 2, 3)])
def test_quantize_one_scale_matches_ncnn(tmp_path, shape):
    x = RNG.uniform(-5, 5, shape).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y", {"x": x}, tmp_path,
                         weights={"q": {"scale_data": [25.0]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], float2int8(x * np.float32(25)))


@pytest.mark.parametrize("shape", [(3, 5), (8, 3), (4, 3, 5), (12, 1, 3), (16, 2, 3), (3, 2, 3, 5), (8, 2, 2, 3)])
def test_quantize_per_row_or_channel_scales_match_ncnn(tmp_path, shape):
    x = RNG.uniform(-5, 5, shape).astype(np.float32)
    scales = RNG.uniform(5, 40, shape[0]).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y 0=%d" % shape[0], {"x": x}, tmp_path,
                         weights={"q": {"scale_data": scales}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], float2int8(x * outer(scales, shape)))


def test_quantize_1d_uses_the_first_scale(tmp_path):
    x = RNG.uniform(-5, 5, (19,)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y 0=3", {"x": x}, tmp_path,
                         weights={"q": {"scale_data": [20.0, 1.0, 2.0]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], float2int8(x * np.float32(20)))


def test_just_below_one_half_differs_from_ncnn_only_in_its_scalar_tail(tmp_path):
    """The one documented rounding difference: pip ncnn rounds the elements left over from its SIMD
    loop (here the 13th of 13) with round(), which takes 0.49999997 to 0; its SIMD loop and ours
    compute trunc(x + 0.5) in float32, which takes it to 1."""
    x = np.full(13, BELOW_HALF, np.float32)
    x[::2] *= -1
    ours, theirs = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y", {"x": x}, tmp_path, batch=1,
                              weights={"q": {"scale_data": [1.0]}}, atol=200, int8=True)["y"]
    np.testing.assert_array_equal(ours[0], np.sign(x))
    np.testing.assert_array_equal(theirs[0], np.r_[np.sign(x[:12]), 0])


def test_quantized_blob_feeds_an_int8_convolution_as_is(tmp_path):
    """Input -> Quantize -> int8 Convolution (and a requantizing one before it): the Convolution
    takes the int8 blob without quantizing again, in pip ncnn as here."""
    s_in = 30.0
    text = """
    Input        in0 0 1 x
    Quantize     q   1 1 x xq
    Convolution  c1  1 1 xq r1 0=8 1=3 4=1 5=1 6=216 8=102 9=1
    Convolution  c2  1 1 r1 y 0=4 1=1 5=1 6=32 8=2
    """
    weights = {"q": {"scale_data": [s_in]}, "c1": {"bottom_blob_int8_scales": [s_in]}}
    x = RNG.uniform(-3, 3, (3, 7, 6)).astype(np.float32)
    check_ncnn(text, {"x": x}, tmp_path, outputs=["xq", "r1", "y"], weights=weights, int8="sim", atol=1e-5)


@pytest.mark.parametrize("consumer", ["InnerProduct c 1 1 xq y 0=6 1=1 2=1440 8=2",
                                      "ConvolutionDepthWise c 1 1 xq y 0=8 1=3 5=1 6=72 7=8 8=1"])
def test_quantized_blob_feeds_int8_innerproduct_and_depthwise_as_is(tmp_path, consumer):
    weights = {"q": {"scale_data": [30.0]}, "c": {"bottom_blob_int8_scales": [30.0]}}
    x = RNG.uniform(-3, 3, (8, 5, 6)).astype(np.float32)
    check_ncnn("Input in 0 1 x\nQuantize q 1 1 x xq\n" + consumer, {"x": x}, tmp_path, outputs=["xq", "y"],
               weights=weights, int8="sim", atol=1e-5)


def test_quantize_then_dequantize_is_q_times_scale_plus_bias():
    """pip ncnn cannot run this chain (its Dequantize reads the int8 Mat as int32, see dequantize.py);
    ours dequantizes the values q."""
    x = RNG.uniform(-3, 3, (2, 4, 3, 5)).astype(np.float32)
    scales, bias = np.float32([20, 30, 40, 50]), np.float32([0, 1, 2, 3])
    y = run_layers([layer("Quantize", "q", ["x"], ["xq"], {0: 4}, {"scale_data": scales}),
                    layer("Dequantize", "d", ["xq"], ["y"], {0: 4, 1: 4},
                          {"scale_data": 1 / scales, "bias_data": bias})], {"x": x})["y"]
    shape = x.shape[1:]
    q = float2int8(x * outer(scales, shape))
    np.testing.assert_array_equal(y, fma(q, outer(1 / scales, shape), outer(bias, shape)))


def test_scale_count_must_match_rows_or_channels():
    with pytest.raises(NcnnlikeError, match="q .*3 values in scale_data.*c axis has 4"):
        run_layers([layer("Quantize", "q", ["x"], ["y"], {0: 3}, {"scale_data": np.ones(3, np.float32)})],
                   {"x": np.zeros((1, 4, 2, 2), np.float32)})


def test_quantize_runs_whatever_use_int8_inference_says(tmp_path):
    x = RNG.uniform(-5, 5, (4, 3, 5)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nQuantize q 1 1 x y", {"x": x}, tmp_path, atol=0, rtol=0, int8=False,
                         weights={"q": {"scale_data": [25.0]}})["y"]
    np.testing.assert_array_equal(ours[0], float2int8(x * np.float32(25)))


def test_bin_holds_scale_data_raw():
    assert specs({}) == [("scale_data", 1, False)]
    assert specs({0: 8}) == [("scale_data", 8, False)]


def specs(params):
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer("Quantize", "q", ["x"], ["y"], params))]
