"""Split: every top equals the bottom, with the bottom's shape."""
import numpy as np

from helpers import layer, run_layers


def test_all_tops_are_copies_of_the_bottom():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    out = run_layers([layer("Split", "sp", ["x"], ["a", "b", "c"]),
                      layer("Dropout", "d", ["b"], ["b2"], {0: 2.0})], {"x": x}, ["a", "b2", "c"])
    np.testing.assert_array_equal(out["a"], x)
    np.testing.assert_array_equal(out["c"], x)
    np.testing.assert_allclose(out["b2"], 2 * x)
