"""Reshape: ncnn dims (w, h, d, c), 0 = copy, -1 = infer, rank from absent dims, shape expressions."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.reshape import eval_list_expression

X = np.arange(2 * 72, dtype=np.float32).reshape(2, 3, 4, 6)


def reshape(params, x=X):
    return run_layers([layer("Reshape", "rs", ["x"], ["y"], params)], {"x": x})["y"]


# (params, expected numpy shape without batch); checked against pip ncnn while writing them
CASES = [
    ({0: -1}, (72,)),
    ({0: 24, 1: -1}, (3, 24)),
    ({0: 0, 1: -1, 2: 3}, (3, 4, 6)),
    ({0: 6, 1: 2, 11: 2, 2: 3}, (3, 2, 2, 6)),
    ({0: 2, 1: 0, 2: -1}, (9, 4, 2)),
    ({0: 6, 1: 12, 11: 3}, (12, 6)),        # c absent: 2-D, d ignored
    ({6: "-1,*(0h,2),//(0c,3)"}, (1, 8, 9)),
    ({6: "*(0w,0h),0c"}, (3, 24)),
    ({6: "max(0w,0h),-1"}, (12, 6)),
    ({6: "round(/(0w,4)),-1"}, (36, 2)),
]


@pytest.mark.parametrize("params,shape", CASES)
def test_reshape_gives_ncnn_shape_and_keeps_row_major_order(params, shape):
    y = reshape(params)
    assert y.shape == (2,) + shape
    np.testing.assert_array_equal(y.reshape(2, -1), X.reshape(2, -1))


def test_expression_evaluates_prefix_ops_left_operand_first():
    shapes = [(3, 4, 6), (5, 7)]
    assert eval_list_expression("-(0w,1h),//(1w,2),1c,2.5", shapes) == [1, 3, 1, 2]
    assert eval_list_expression("-1,*(0h,2),+(1w,2)", shapes) == [-1, 8, 9]


def test_expression_with_unknown_token_raises_clear_error():
    with pytest.raises(NcnnlikeError, match="malformed token 'foo'"):
        eval_list_expression("foo(0w),-1", [(3, 4)])


def test_size_mismatch_raises_clear_error():
    with pytest.raises(NcnnlikeError, match="rs.*cannot reshape"):
        reshape({0: 5, 1: -1, 2: 7})


def test_all_absent_raises_clear_error():
    with pytest.raises(NcnnlikeError, match="rs.*no output shape"):
        reshape({})
