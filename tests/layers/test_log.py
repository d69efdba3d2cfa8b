"""Log: log_base(shift + x * scale), base -1 (the default) meaning e, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, avx512, check_unary

X = np.random.default_rng(0).uniform(0.1, 5, (4, 3, 5)).astype(np.float32)


def test_log_defaults_are_natural_log(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nLog l 1 1 x y", {"x": X}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], np.log(X.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params", [" 1=2.000000e+00 2=5.000000e-01", " 0=1.000000e+01",
                                    " 0=2.000000e+00 1=3.000000e+00 2=1.000000e-01"])
def test_log_base_scale_shift_match_ncnn(tmp_path, params):
    check_ncnn("Input in 0 1 x\nLog l 1 1 x y" + params, {"x": X}, tmp_path)


def test_log_base_10(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nLog l 1 1 x y 0=1.000000e+01", {"x": X}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], np.log10(X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_log_of_zero_and_negative_is_minus_inf_and_nan(tmp_path):
    x = np.array([-1, 0, 1, 4], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nLog l 1 1 x y 0=2.000000e+00", {"x": x}, tmp_path, batch=1)["y"]
    np.testing.assert_array_equal(ours[0], [np.nan, -np.inf, 0, 2])


@avx512
@pytest.mark.parametrize("params", ["", "0=1.000000e+01", "1=-1.000000e+00 2=1.000000e+00"])
def test_special_inputs_match_pip_ncnn(tmp_path, params):
    check_unary("Log l 1 1 x y " + params, tmp_path, SPECIAL, any_size=True)    # libm logf: log(0) = -inf
