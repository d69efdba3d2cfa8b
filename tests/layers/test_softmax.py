"""Softmax: along the ncnn axis; axis != 0 needs fixbug0."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape,axis", [((7,), 0), ((4, 5), 1), ((3, 4, 5), 0), ((3, 4, 5), 1),
                                        ((3, 4, 5), -1), ((2, 3, 4, 5), 1)])
def test_softmax_along_ncnn_axis(shape, axis):
    x = RNG.standard_normal((2,) + shape).astype(np.float32) * 5
    params = {0: axis, 1: 1} if axis else {}
    y = run_layers([layer("Softmax", "sm", ["x"], ["y"], params)], {"x": x})["y"]
    a = axis % len(shape)
    np.testing.assert_allclose(y, softmax_ref(x.astype(np.float64), a + 1), rtol=1e-5, atol=1e-7)


def test_axis_without_fixbug0_is_rejected_like_ncnn():
    with pytest.raises(NcnnlikeError, match="sm.*fixbug0"):
        run_layers([layer("Softmax", "sm", ["x"], ["y"], {0: 1})], {"x": np.zeros((1, 2, 3), np.float32)})


def test_writer_forces_fixbug0_exactly_when_axis_is_not_0():
    """ModelWriter: ` 1=1` whenever axis != 0, never otherwise (FastestDet's `0=0 1=1` loses it)."""
    from ncnnlike.layers.base import explicit_params
    assert explicit_params(layer("Softmax", "s", ["x"], ["y"], {0: 0, 1: 1})) == []
    assert explicit_params(layer("Softmax", "s", ["x"], ["y"], {0: 1, 1: 1})) == [(0, 1), (1, 1)]
    assert explicit_params(layer("Softmax", "s", ["x"], ["y"], {0: -1})) == [(0, -1), (1, 1)]
