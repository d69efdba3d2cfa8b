"""Clip: clamp to [min, max]; defaults are +-FLT_MAX (no clamping of finite values)."""
import numpy as np
from helpers import layer, run_layers

X = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32) * 1e30


def test_clip_clamps_to_min_max():
    y = run_layers([layer("Clip", "c", ["x"], ["y"], {0: -0.5e30, 1: 0.7e30})], {"x": X})["y"]
    np.testing.assert_array_equal(y, np.clip(X, np.float32(-0.5e30), np.float32(0.7e30)))


def test_clip_defaults_keep_large_values():
    y = run_layers([layer("Clip", "c", ["x"], ["y"])], {"x": X})["y"]
    np.testing.assert_array_equal(y, X)
