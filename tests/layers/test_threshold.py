"""Threshold: 1 where x > threshold (strictly), else 0; threshold defaults to 0, against pip ncnn."""
import numpy as np
from oracle import check_ncnn


def test_threshold_default_is_strictly_positive(tmp_path):
    x = np.array([-1, -0.0, 0, 1e-30, 2], np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nThreshold t 1 1 x y", {"x": x}, tmp_path, batch=1, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], [0, 0, 0, 1, 1])


def test_threshold_matches_ncnn(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 5)).astype(np.float32)
    x[0, 0, :2] = 0.25
    ours, _ = check_ncnn("Input in 0 1 x\nThreshold t 1 1 x y 0=2.500000e-01", {"x": x}, tmp_path, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], (x > np.float32(0.25)).astype(np.float32))
