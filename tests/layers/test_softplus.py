"""Softplus: log(exp(x) + 1) exactly as ncnn writes it (inf past ~88.7), against pip ncnn."""
import numpy as np
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary


def test_softplus_matches_ncnn(tmp_path):
    x = np.random.default_rng(0).uniform(-20, 20, (4, 3, 5)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nSoftplus s 1 1 x y", {"x": x}, tmp_path)["y"]
    np.testing.assert_allclose(ours[0], np.logaddexp(0, x.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_softplus_overflows_to_inf_and_underflows_to_zero_as_ncnn(tmp_path):
    x = np.array([80, 88, 89, 200, 0, -17, -90], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nSoftplus s 1 1 x y", {"x": x}, tmp_path, batch=1)["y"]
    assert np.isinf(ours[0][2:4]).all() and (ours[0][5:] == 0).all()


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("Softplus s 1 1 x y", tmp_path, SPECIAL)
    for value, expected in [(100, np.inf), (-100, 0)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
