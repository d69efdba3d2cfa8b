"""ShuffleChannel: group / reverse on 3-D and 4-D blobs, exact against pip ncnn (pure data movement)."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((6, 3, 5), "0=2"),                 # elempack 1 in ncnn
    ((12, 2, 3), "0=3"),                # elempack 4
    ((16, 2, 2), "0=2 1=1"),            # FastestDet / nanodet form, elempack 16
    ((24, 1, 3), "0=4"),                # elempack 8
    ((32, 2, 1), "0=8 1=1"),            # group > 4: ncnn's slow path
    ((6, 2, 3, 4), "0=3"),              # 4-D
    ((8, 1, 2, 2), "0=2 1=1"),
    ((5, 2, 2), "0=1"),                 # one group: identity
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input          in0 0 1 x
    ShuffleChannel sc  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_reverse_undoes_the_shuffle():
    x = RNG.standard_normal((2, 12, 2, 3)).astype(np.float32)
    y = run_layers([layer("ShuffleChannel", "a", ["x"], ["t"], {0: 3}),
                    layer("ShuffleChannel", "b", ["t"], ["y"], {0: 3, 1: 1})], {"x": x}, ["t", "y"])
    np.testing.assert_array_equal(y["t"], x.reshape(2, 3, 4, 2, 3).transpose(0, 2, 1, 3, 4).reshape(x.shape))
    np.testing.assert_array_equal(y["y"], x)


@pytest.mark.parametrize("shape,params", [((6, 2, 2), {0: 4}), ((4, 3), {0: 2})])
def test_channels_not_in_groups_raise(shape, params):
    with pytest.raises(NcnnlikeError, match="sc.*ShuffleChannel"):
        run_layers([layer("ShuffleChannel", "sc", ["x"], ["y"], params)], {"x": np.zeros((1,) + shape, np.float32)})
