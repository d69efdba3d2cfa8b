"""Power: (shift + x * scale) ^ power; defaults power 1, scale 1, shift 0, against pip ncnn."""
import numpy as np
import pytest
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary

X = np.random.default_rng(0).uniform(-3, 3, (4, 3, 5)).astype(np.float32)


def test_power_defaults_are_identity(tmp_path):
    ours, _ = check_ncnn("Input in 0 1 x\nPower p 1 1 x y", {"x": X}, tmp_path, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], X)


@pytest.mark.parametrize("params", [" 0=2.000000e+00", " 0=3.000000e+00 1=5.000000e-01 2=1.000000e-01",
                                    " 0=-1.000000e+00 1=2.000000e+00 2=7.000000e+00"])
def test_power_matches_ncnn(tmp_path, params):
    check_ncnn("Input in 0 1 x\nPower p 1 1 x y" + params, {"x": X}, tmp_path)


def test_power_fractional_exponent_of_negative_base_is_nan(tmp_path):
    x = np.array([-1, -2, 0, 0.25, 4], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nPower p 1 1 x y 0=5.000000e-01", {"x": x}, tmp_path, batch=1)["y"]
    np.testing.assert_array_equal(ours[0], [np.nan, np.nan, 0, 0.5, 2])


@avx512
@pytest.mark.parametrize("power", [2.0, 0.5, -1.0, -2.0, 1.5, -3.0])
def test_special_inputs_match_pip_ncnn(tmp_path, power):
    x, ours = check_unary("Power p 1 1 x y 0=%e" % power, tmp_path, SPECIAL, any_size=True)
    if power in (-1.0, -3.0):
        assert at(x, ours, -0.0) == np.inf            # shift + x * scale turns -0 into +0 first
