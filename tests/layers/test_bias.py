"""Bias: per-channel addition; a 1-D/2-D blob is a single channel (bias[0])."""
import numpy as np

from helpers import layer, run_layers


def test_adds_bias_per_channel():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    y = run_layers([layer("Bias", "b", ["x"], ["y"], {0: 3}, {"bias_data": b})], {"x": x})["y"]
    np.testing.assert_allclose(y, x + b[:, None, None], rtol=1e-6)


def test_2d_blob_is_one_channel_and_gets_bias_0():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 5)).astype(np.float32)
    b = np.array([0.5, 7.0, 9.0, 11.0], np.float32)
    y = run_layers([layer("Bias", "b", ["x"], ["y"], {0: 4}, {"bias_data": b})], {"x": x})["y"]
    np.testing.assert_allclose(y, x + np.float32(0.5), rtol=1e-6)
