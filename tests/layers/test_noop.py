"""Noop: each top is the matching bottom."""
import numpy as np

from helpers import layer, run_layers


def test_tops_are_the_bottoms_in_order():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    z = rng.standard_normal((2, 5)).astype(np.float32)
    out = run_layers([layer("Noop", "n", ["x", "z"], ["x2", "z2"])], {"x": x, "z": z})
    np.testing.assert_array_equal(out["x2"], x)
    np.testing.assert_array_equal(out["z2"], z)
