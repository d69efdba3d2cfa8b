"""Shrink: x + bias below -lambd, x - bias above lambd, else 0; defaults bias 0, lambd 0.5."""
import numpy as np
from oracle import check_ncnn


def test_shrink_defaults_are_hard_shrink_at_one_half(tmp_path):
    x = np.array([-0.50001, -0.5, 0, 0.5, 0.50001, 3], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nShrink s 1 1 x y", {"x": x}, tmp_path, batch=1, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], np.where(np.abs(x) > 0.5, x, 0))


def test_soft_shrink_matches_ncnn(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 5)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nShrink s 1 1 x y 0=3.000000e-01 1=3.000000e-01", {"x": x}, tmp_path)["y"]
    v = x.astype(np.float64)
    np.testing.assert_allclose(ours[0], np.sign(v) * np.maximum(np.abs(v) - 0.3, 0), rtol=1e-6, atol=1e-7)
