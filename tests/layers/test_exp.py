"""Exp: base ^ (shift + x * scale), base -1 (the default) meaning e, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, avx512, check_unary

X = np.random.default_rng(0).uniform(-3, 3, (4, 3, 5)).astype(np.float32)


def test_exp_defaults_are_natural_exp(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nExp e 1 1 x y", {"x": X}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], np.exp(X.astype(np.float64)), rtol=1e-5)


@pytest.mark.parametrize("params", [" 1=5.000000e-01 2=2.500000e-01", " 0=2.000000e+00",
                                    " 0=1.000000e+01 1=-1.500000e+00 2=1.000000e+00"])
def test_exp_base_scale_shift_match_ncnn(tmp_path, params):
    check_ncnn("Input in 0 1 x\nExp e 1 1 x y" + params, {"x": X}, tmp_path)


def test_exp_base_2_is_pow(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nExp e 1 1 x y 0=2.000000e+00 1=5.000000e-01 2=1.000000e+00",
                         {"x": X}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], 2.0 ** (1 + X.astype(np.float64) * 0.5), rtol=1e-5)


def test_exp_negative_base_is_nan_for_fractions(tmp_path):
    x = np.array([1, 2, 3, 0.5, -1, -2.5, 0], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nExp e 1 1 x y 0=-2.000000e+00", {"x": x}, tmp_path, batch=1)["y"]
    np.testing.assert_array_equal(ours[0], [-2, 4, -8, np.nan, -0.5, np.nan, 1])


def test_exp_overflows_to_inf(tmp_path):
    x = np.array([100, 89, -100], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nExp e 1 1 x y", {"x": x}, tmp_path, batch=1)["y"]
    assert np.isinf(ours[0][:2]).all() and 0 <= ours[0][2] < 1e-40


@avx512
@pytest.mark.parametrize("params", ["", "0=2.000000e+00", "1=5.000000e-01 2=1.000000e+00"])
def test_special_inputs_match_pip_ncnn(tmp_path, params):
    check_unary("Exp e 1 1 x y " + params, tmp_path, SPECIAL, any_size=True)   # libm expf / powf: no clamp
