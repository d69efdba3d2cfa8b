"""Packing: as seen through pip ncnn's extract (packing layout on), an identity for every
out_elempack and use_padding that does not pad; padding with garbage is refused."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((12,), "0=4"), ((6,), "0=4"), ((8, 3), "0=8"), ((6, 3), "0=4"), ((3, 2, 2), "0=4"),
    ((16, 1, 2), "0=16 1=1"), ((8, 2, 2), "0=4 1=1"), ((3, 1, 2, 2), "0=8"), ((12, 2, 2), "0=3 1=1"),
    ((8, 2, 2), "0=1"),
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input   in0 0 1 x
    Packing pk  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


@pytest.mark.parametrize("shape,params", [((6,), {0: 4, 1: 1}), ((3, 2, 2), {0: 4, 1: 1}),
                                          ((8, 2, 2), {0: 16, 1: 1}), ((4, 2), {0: 0})])
def test_padding_with_garbage_or_no_elempack_raises(shape, params):
    with pytest.raises(NcnnlikeError, match="pk.*Packing"):
        run_layers([layer("Packing", "pk", ["x"], ["y"], params)], {"x": np.zeros((1,) + shape, np.float32)})
