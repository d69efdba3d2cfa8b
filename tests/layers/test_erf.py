"""Erf: the error function, against pip ncnn."""
import math

import numpy as np
from oracle import check_ncnn
from special_values import SPECIAL, at, avx512, check_unary


def test_erf_matches_ncnn(tmp_path):
    x = np.random.default_rng(0).uniform(-4, 4, (4, 3, 5)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nErf e 1 1 x y", {"x": x}, tmp_path)["y"]
    ref = np.vectorize(math.erf)(x.astype(np.float64))
    np.testing.assert_allclose(ours[0], ref, rtol=1e-5, atol=1e-6)


@avx512
def test_special_inputs_match_pip_ncnn(tmp_path):
    x, ours = check_unary("Erf e 1 1 x y", tmp_path, SPECIAL, any_size=True)
    for value, expected in [(np.inf, 1), (-np.inf, -1)]:
        np.testing.assert_allclose(at(x, ours, value), np.float32(expected), rtol=1e-6, atol=1e-30, equal_nan=True)
