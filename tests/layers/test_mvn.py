"""MVN against pip ncnn: mean only / mean and variance, per channel / across channels, every rank,
and ncnn's output shape (a 1-D or 2-D blob comes out 3-D).

Tolerance 2e-6 abs: float32 sums in a different order (measured <= 9.6e-7 on outputs of order 1-3).
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(12,), (3, 4), (3, 4, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("params", ["", "0=1", "1=1", "0=1 1=1 2=0.01"])
def test_mvn_matches_ncnn(tmp_path, shape, params):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    check_ncnn("Input in 0 1 x\nMVN m 1 1 x y " + params, {"x": x}, tmp_path, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("shape,top", [((12,), (1, 1, 12)), ((3, 4), (1, 3, 4)), ((2, 3, 4), (2, 3, 4)),
                                       ((2, 3, 4, 5), (2, 3, 4, 5))])
def test_one_and_two_d_blobs_come_out_three_d(tmp_path, shape, top):
    x = RNG.standard_normal(shape).astype(np.float32)
    ours, theirs = check_ncnn("Input in 0 1 x\nMVN m 1 1 x y 0=1", {"x": x}, tmp_path, atol=2e-6, rtol=1e-5)["y"]
    assert ours.shape[1:] == theirs[0].shape == top


def test_eps_is_added_to_the_standard_deviation():
    x = np.array([[[[1.0, 3.0]]]], np.float32)                       # mean 2, std 1
    y = run_layers([layer("MVN", "m", ["x"], ["y"], {0: 1, 2: 1.0})], {"x": x})["y"]
    np.testing.assert_allclose(y.ravel(), [-0.5, 0.5], rtol=1e-6)
