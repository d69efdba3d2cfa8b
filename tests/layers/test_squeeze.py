"""Squeeze: the squeeze_w/h/d/c flags and the axes array on 1-D..4-D blobs, exact against pip ncnn."""
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import default_of
from ncnnlike.layers.squeeze import PARAMS, out_shape

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,params", [
    ((1, 4, 1), "0=1 2=1"),             # flags: w and c
    ((1, 4, 5), "2=1 1=1"),             # h is not 1: only c goes
    ((3, 1, 5), "1=1"),
    ((1, 1, 1), "0=1 1=1 2=1"),         # everything: one value
    ((1, 5), "1=1"),
    ((4, 1), "0=1 1=1"),
    ((1,), "0=1"),
    ((2, 1, 3, 1), "11=1 0=1"),         # 4-D: d and w
    ((1, 1, 3, 4), "2=1 11=1"),
    ((1, 3, 1, 4), "2=1 1=1"),          # c and h -> (d, w)
    ((1, 4, 1), "-23303=1,0"),          # axes (pnnx)
    ((3, 4, 1), "-23303=1,-1"),
    ((1, 3, 1), "-23303=2,0,2 0=0"),
    ((2, 1, 3, 4), "-23303=1,1"),       # 4-D axis 1 is d
    ((1, 3, 1, 4), "-23303=2,0,-2"),
    ((1, 1, 1, 4), "-23303=3,0,1,2"),
    ((2, 3, 4), "-23303=1,1"),          # not size 1: unchanged
    ((1, 5), "-23303=1,0"),
    ((1, 4, 1), "-23303=1,1 0=1 2=1"),  # axes given: the flags are ignored
])
def test_matches_ncnn_exactly(tmp_path, shape, params):
    check_ncnn("""
    Input   in0 0 1 x
    Squeeze sq  1 1 x y %s
    """ % params, {"x": RNG.standard_normal(shape)}, tmp_path, atol=0, rtol=0)


def resolved(**values):
    return SimpleNamespace(**{q.name: values.get(q.name, default_of(q, {})) for q in PARAMS})


def test_out_of_range_axes_are_ignored_as_in_ncnn():
    assert out_shape(resolved(axes=[3, -4]), (1, 3, 1)) == (1, 3, 1)
    assert out_shape(resolved(squeeze_d=1), (1, 3, 1)) == (1, 3, 1)   # a 3-D blob has no d to squeeze


@pytest.mark.parametrize("axes", [[4], [-5], [0, 1, 2, 0, 1]])
def test_axes_pip_ncnn_refuses_raise(axes):
    with pytest.raises(NcnnlikeError, match="sq.*Squeeze.*-4..3"):
        run_layers([layer("Squeeze", "sq", ["x"], ["y"], {3: axes})], {"x": np.zeros((1, 1, 3), np.float32)})
