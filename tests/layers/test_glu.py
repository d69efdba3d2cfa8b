"""GLU: first half * sigmoid(second half) along axis; an odd axis drops its last element."""
import numpy as np
import pytest
from oracle import check_ncnn

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def glu(x, axis):
    half = x.shape[axis] // 2
    a = np.take(x, range(half), axis=axis).astype(np.float64)
    b = np.take(x, range(half, 2 * half), axis=axis).astype(np.float64)
    return a / (1 + np.exp(-b))


@pytest.mark.parametrize("shape,axis", [((8,), 0), ((7,), 0), ((9,), 2), ((6, 5), 0), ((5, 3), 1),
                                        ((5, 4, 3), 0), ((4, 5, 3), 1), ((4, 3, 7), 2), ((4, 3, 6), -1),
                                        ((5, 2, 3, 4), 0), ((2, 5, 3, 4), 1), ((2, 3, 5, 4), 2),
                                        ((2, 3, 4, 5), 3), ((2, 3, 4, 6), -2)])
def test_glu_matches_ncnn(tmp_path, shape, axis):
    x = RNG.uniform(-4, 4, shape).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nGLU g 1 1 x y 0=%d" % axis, {"x": x}, tmp_path)["y"]
    onnx_axis = 0 if len(shape) == 1 else axis % len(shape)
    np.testing.assert_allclose(ours[0], glu(x, onnx_axis), rtol=1e-5, atol=1e-6)


def test_glu_default_axis_is_0(tmp_path):
    x = RNG.uniform(-4, 4, (6, 3, 2)).astype(np.float32)
    ours, _ = check_ncnn("Input in 0 1 x\nGLU g 1 1 x y", {"x": x}, tmp_path)["y"]
    assert ours.shape == (2, 3, 3, 2)


def test_glu_axis_out_of_range_or_too_short_is_an_error():
    with pytest.raises(NcnnlikeError, match="g.*axis 3"):
        run_layers([layer("GLU", "g", ["x"], ["y"], {0: 3})], {"x": np.zeros((1, 2, 3, 4), np.float32)})
    with pytest.raises(NcnnlikeError, match="fewer than 2"):
        run_layers([layer("GLU", "g", ["x"], ["y"], {0: 1})], {"x": np.zeros((1, 2, 1, 4), np.float32)})
