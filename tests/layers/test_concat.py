"""Concat: ncnn axis (numpy axis without batch), negative axes, 1-D to 4-D blobs."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shapes,axis", [
    ([(2, 3, 4), (3, 3, 4)], 0),
    ([(2, 3, 4), (2, 1, 4)], 1),
    ([(2, 3, 4), (2, 3, 2), (2, 3, 1)], -1),
    ([(3,), (4,)], 0),
    ([(2, 3), (2, 5)], 1),
    ([(2, 2, 3, 4), (2, 2, 3, 1)], 3),
])
def test_concat_joins_along_ncnn_axis(shapes, axis):
    inputs = {"x%d" % i: RNG.standard_normal((2,) + s).astype(np.float32) for i, s in enumerate(shapes)}
    y = run_layers([layer("Concat", "cat", list(inputs), ["y"], {0: axis})], inputs)["y"]
    a = axis + len(shapes[0]) if axis < 0 else axis
    np.testing.assert_array_equal(y, np.concatenate(list(inputs.values()), axis=a + 1))


def test_mismatched_other_dims_raise():
    inputs = {"a": np.zeros((1, 2, 3), np.float32), "b": np.zeros((1, 2, 4), np.float32)}
    with pytest.raises(NcnnlikeError, match="cat.*cannot concat"):
        run_layers([layer("Concat", "cat", ["a", "b"], ["y"], {0: 0})], inputs)
