"""Dequantize: y = int * scale (+ bias, one fma), one value or one per row / channel; against pip
ncnn fed an int32 Mat (what its Dequantize reads), bit for bit."""
import numpy as np
import pytest
from int8_ref import fma, outer
from oracle import check_ncnn

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
EXACT = dict(atol=0, rtol=0, int8=True)
SHAPES = [(37,), (3, 5), (8, 3), (4, 3, 5), (12, 1, 3), (16, 2, 3), (5, 7, 3), (3, 2, 3, 5), (8, 2, 2, 3)]


def acc(shape):
    return RNG.integers(-20000, 20000, shape).astype(np.int32)


@pytest.mark.parametrize("shape", SHAPES)
def test_dequantize_one_scale_matches_ncnn(tmp_path, shape):
    x = acc(shape)
    ours, _ = check_ncnn("Input in 0 1 x\nDequantize d 1 1 x y", {"x": x}, tmp_path,
                         weights={"d": {"scale_data": [0.003]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], x.astype(np.float32) * np.float32(0.003))


@pytest.mark.parametrize("shape", SHAPES)
def test_dequantize_scale_and_bias_are_one_fma_as_ncnn(tmp_path, shape):
    x = acc(shape)
    ours, _ = check_ncnn("Input in 0 1 x\nDequantize d 1 1 x y 1=1", {"x": x}, tmp_path,
                         weights={"d": {"scale_data": [0.003], "bias_data": [0.7]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], fma(x, np.float32(0.003), np.float32(0.7)))


@pytest.mark.parametrize("shape", [s for s in SHAPES if len(s) > 1])
def test_dequantize_per_row_or_channel_matches_ncnn(tmp_path, shape):
    n = shape[0]
    x = acc(shape)
    scale, bias = RNG.uniform(1e-3, 1e-2, n).astype(np.float32), RNG.normal(0, 1, n).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nDequantize d 1 1 x y 0=%d 1=%d" % (n, n), {"x": x}, tmp_path,
                         weights={"d": {"scale_data": scale, "bias_data": bias}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], fma(x, outer(scale, shape), outer(bias, shape)))


def test_dequantize_per_channel_scale_with_one_bias_matches_ncnn(tmp_path):
    x = acc((4, 3, 5))
    check_ncnn("Input in 0 1 x\nDequantize d 1 1 x y 0=4 1=1", {"x": x}, tmp_path,
               weights={"d": {"scale_data": RNG.uniform(1e-3, 1e-2, 4), "bias_data": [-0.3]}}, **EXACT)


def test_dequantize_1d_uses_the_first_scale_and_bias(tmp_path):
    x = acc((21,))
    ours, _ = check_ncnn("Input in 0 1 x\nDequantize d 1 1 x y 0=2 1=2", {"x": x}, tmp_path,
                         weights={"d": {"scale_data": [0.01, 5.0], "bias_data": [-0.25, 9.0]}}, **EXACT)["y"]
    np.testing.assert_array_equal(ours[0], fma(x, np.float32(0.01), np.float32(-0.25)))


def test_dequantize_int8_bottom_uses_its_values_q():
    """A Quantize top is int8; its Dequantize takes the values q (pip ncnn reads the int8 Mat as int32
    and overruns it, so this has no ncnn counterpart)."""
    x = np.float32([[-3.0, -0.26, 0.24, 1.0, 9.0]])
    y = run_layers([layer("Quantize", "q", ["x"], ["xq"], {}, {"scale_data": np.float32([10])}),
                    layer("Dequantize", "d", ["xq"], ["y"], {}, {"scale_data": np.float32([0.5])})], {"x": x})["y"]
    np.testing.assert_array_equal(y, [[-15, -1.5, 1, 5, 45]])


def test_bin_holds_scale_then_bias_raw():
    assert specs({}) == [("scale_data", 1, False)]
    assert specs({0: 8, 1: 8}) == [("scale_data", 8, False), ("bias_data", 8, False)]


def test_bias_count_must_match_rows_or_channels():
    weights = {"scale_data": np.ones(1, np.float32), "bias_data": np.ones(5, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer d \\(Dequantize\\): 5 values in bias_data.*h axis has 3"):
        run_layers([layer("Dequantize", "d", ["x"], ["y"], {1: 5}, weights)], {"x": np.zeros((1, 3, 4), np.float32)})


def specs(params):
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer("Dequantize", "d", ["x"], ["y"], params))]
