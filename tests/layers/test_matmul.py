"""MatMul: numpy matmul semantics over ncnn shapes (per sample), transB, 1-D operands."""
import numpy as np
import pytest

from helpers import layer, run_layers


@pytest.mark.parametrize("a_shape,b_shape,trans_b", [
    ((4, 5), (5, 3), 0), ((4, 5), (3, 5), 1), ((5,), (5, 3), 0), ((4, 5), (5,), 0), ((5,), (5,), 0),
    ((2, 4, 5), (5, 3), 0), ((4, 5), (2, 5, 3), 0), ((2, 4, 5), (2, 3, 5), 1), ((5,), (2, 5, 3), 0),
    ((2, 4, 5), (5,), 0), ((3, 2, 4, 5), (2, 5, 3), 0), ((4, 5), (3, 1, 3, 5), 1),
])
def test_matches_numpy_matmul_per_sample(a_shape, b_shape, trans_b):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2,) + a_shape).astype(np.float32)
    b = rng.standard_normal((2,) + b_shape).astype(np.float32)
    y = run_layers([layer("MatMul", "mm", ["a", "b"], ["y"], {0: trans_b})], {"a": a, "b": b})["y"]
    ref = []
    for ai, bi in zip(a, b):
        if trans_b and bi.ndim >= 2:
            bi = np.swapaxes(bi, -1, -2)
        ref.append(np.atleast_1d(np.matmul(ai, bi)))
    ref = np.stack(ref)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
