"""Fused activations (activation.py) on special inputs against pip ncnn, through a 1x1 depthwise
convolution with weights 1 and bias 0 on 16 channels (ncnn's packed 16-lane path on AVX-512)."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, avx512, tiled, without

from ncnnlike.layers.activation import SIGMOID_OF_NAN, apply_fused

CHANNELS = 16

# activation_type -> (params, values not compared: ncnn's answer there depends on the lane)
ACTIVATIONS = {
    1: ("", [np.nan]),
    2: (" -23310=1,1.000000e-01", []),
    3: (" -23310=2,-1.000000e+00,1.000000e+00", [np.nan]),
    4: ("", []),
    5: ("", []),
    6: (" -23310=2,1.666667e-01,5.000000e-01", [-np.inf]),
}


def run_fused(activation_type, x, tmp_path):
    params, _ = ACTIVATIONS[activation_type]
    text = ("Input in 0 1 x\nConvolutionDepthWise dw 1 1 x y 0=%d 1=1 5=1 6=%d 7=%d 9=%d%s"
            % (CHANNELS, CHANNELS, CHANNELS, activation_type, params))
    weights = {"dw": {"weight_data": np.ones(CHANNELS, np.float32), "bias_data": np.zeros(CHANNELS, np.float32)}}
    out = check_ncnn(text, {"x": x}, tmp_path, batch=1, atol=1e-6, rtol=1e-5, weights=weights)
    return out["y"][0][0].reshape(-1)


@avx512
@pytest.mark.parametrize("activation_type", sorted(ACTIVATIONS))
def test_fused_activation_special_inputs_match_pip_ncnn(activation_type, tmp_path):
    values = tiled(without(SPECIAL, *ACTIVATIONS[activation_type][1]), CHANNELS * 4)
    x = values.reshape(CHANNELS, 1, -1)
    ours = run_fused(activation_type, x, tmp_path)
    if activation_type == 4:
        assert (ours[np.isnan(x.reshape(-1))] == SIGMOID_OF_NAN).all()


def test_apply_fused_sigmoid_of_nan_is_ncnns():
    y = apply_fused(np.array([np.nan, 0, 100], np.float32), 4, [])
    np.testing.assert_allclose(y, [SIGMOID_OF_NAN, 0.5, 1], rtol=1e-6)
