"""Tile: the axis/tiles form and the repeats array (1-4 values) on 1-D..4-D blobs, exact against
pip ncnn, including ncnn's own rule for a repeats array longer than the blob's dims."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((5,), "1=3"), ((5,), "0=1 1=2"),                      # 1-D: axis ignored
    ((3, 4), "0=0 1=2"), ((3, 4), "0=1 1=3"), ((3, 4), "0=2 1=3"),
    ((2, 3, 4), "0=0 1=2"), ((2, 3, 4), "0=1 1=2"), ((2, 3, 4), "0=2 1=3"),
    ((2, 2, 3, 4), "0=0 1=2"), ((2, 2, 3, 4), "0=1 1=2"), ((2, 2, 3, 4), "0=3 1=2"),
    ((5,), "-23302=1,3"), ((5,), "-23302=2,2,3"), ((5,), "-23302=3,2,1,2"), ((5,), "-23302=4,2,1,2,2"),
    ((3, 4), "-23302=1,2"), ((3, 4), "-23302=2,2,3"), ((3, 4), "-23302=3,2,1,2"), ((3, 4), "-23302=4,2,2,1,2"),
    ((2, 3, 4), "-23302=3,2,1,2"), ((2, 3, 4), "-23302=2,2,3"), ((2, 3, 4), "-23302=4,2,3,1,2"),
    ((2, 2, 3, 4), "-23302=3,2,1,2"), ((2, 2, 3, 4), "-23302=4,2,1,1,3"), ((2, 2, 3, 4), "-23302=1,2"),
    ((5,), "-23302=2,1,1"),                                # all ones, but a new h axis
    ((2, 3, 4), ""),                                       # defaults: identity
    ((3, 4), "0=3 1=2"),                                   # an axis the blob lacks: identity
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input in0 0 1 x
    Tile  tl  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def test_3d_blob_by_4_repeats_keeps_its_channels():
    x = RNG.standard_normal((1, 2, 3, 4)).astype(np.float32)
    y = run_layers([layer("Tile", "tl", ["x"], ["y"], {2: [2, 3, 1, 1]})], {"x": x})["y"]
    np.testing.assert_array_equal(y, np.tile(x[:, :, None], (1, 2, 3, 1, 1)))


@pytest.mark.parametrize("params", [{1: 0}, {2: [2, 0]}, {2: [1, 1, 1, 1, 2]}, {0: 4, 1: 2}, {0: -1}])
def test_bad_repeats_raise(params):
    with pytest.raises(NcnnlikeError, match="tl.*Tile"):
        run_layers([layer("Tile", "tl", ["x"], ["y"], params)], {"x": np.zeros((1, 2, 3), np.float32)})
