"""Input: declared shapes from the params, schema order, and no lowering."""
import pytest

from helpers import layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import input as input_layer
from ncnnlike.layers.base import explicit_params, resolve


@pytest.mark.parametrize("params,shape", [
    ({}, None), ({0: 5}, (5,)), ({0: 5, 1: 4}, (4, 5)), ({0: 5, 1: 4, 2: 3}, (3, 4, 5)),
    ({0: 5, 1: 4, 11: 2, 2: 3}, (3, 2, 4, 5)),
])
def test_shape_from_non_zero_dims(params, shape):
    assert input_layer.shape(resolve(layer("Input", "in", [], ["x"], params))) == shape


def test_writer_order_is_w_h_c_then_d():
    l = layer("Input", "in", [], ["x"], {11: 2, 2: 3, 1: 224, 0: 224})
    assert explicit_params(l) == [(0, 224), (1, 224), (2, 3), (11, 2)]


def test_lower_is_never_valid():
    l = layer("Input", "in", [], ["x"])
    with pytest.raises(NcnnlikeError, match="bound by the runtime"):
        input_layer.lower(l, resolve(l), None)
