"""BinaryOp: all 19 ops against numpy, scalar mode, ncnn's (non-numpy) broadcasting rules, and pip
ncnn's x86 answers on special operands (0, -0, denormals, huge, +-inf, NaN) and exact multiples."""
import math

import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn
from special_values import OPERANDS, avx512, check_binary, check_unary, without

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.binaryop import MAX, MIN

RNG = np.random.default_rng(0)

REFERENCE = {
    0: np.add, 1: np.subtract, 2: np.multiply, 3: np.divide, 4: np.maximum, 5: np.minimum,
    6: np.power, 7: lambda a, b: b - a, 8: lambda a, b: b / a, 9: lambda a, b: np.power(b, a),
    10: np.arctan2, 11: lambda a, b: np.arctan2(b, a), 12: np.fmod, 13: lambda a, b: np.fmod(b, a),
    14: np.logaddexp, 15: lambda a, b: np.floor(a / b), 16: lambda a, b: np.floor(b / a),
    17: np.vectorize(math.remainder, otypes=[np.float32]),
    18: np.vectorize(lambda a, b: math.remainder(b, a), otypes=[np.float32]),
}


def operands(op):
    """Positive bases for pow, non-zero divisors elsewhere, mixed signs for atan2/fmod/remainder."""
    a = RNG.uniform(-3, 3, (2, 3, 4, 5)).astype(np.float32)
    b = RNG.uniform(0.5, 2, (2, 3, 4, 5)).astype(np.float32) * RNG.choice([-1, 1], (2, 3, 4, 5))
    if op == 6:
        a = np.abs(a) + 0.1
    if op == 9:
        b = np.abs(b)
    return a, b.astype(np.float32)


@pytest.mark.parametrize("op", range(19))
def test_binaryop_each_op_matches_numpy(op):
    a, b = operands(op)
    lay = layer("BinaryOp", "bin", ["a", "b"], ["y"], {0: op})
    y = run_layers([lay], {"a": a, "b": b})["y"]
    np.testing.assert_allclose(y, REFERENCE[op](a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", [1, 3, 7, 8, 17, 18])
def test_binaryop_with_scalar_uses_b_as_second_operand(op):
    a = RNG.uniform(0.5, 3, (2, 3, 4)).astype(np.float32)
    lay = layer("BinaryOp", "bin", ["a"], ["y"], {0: op, 1: 1, 2: 0.75})
    y = run_layers([lay], {"a": a})["y"]
    np.testing.assert_allclose(y, REFERENCE[op](a, np.float32(0.75)), rtol=1e-6, atol=1e-6)


def test_remainder_rounds_quotient_half_to_even_exactly():
    a = np.array([[2.5, 3.5, -2.5, -3.5, 7.0, 1e7 + 1, 0.1, -5.25]], np.float32)
    b = np.array([[1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 0.03, 1.5]], np.float32)
    lay = layer("BinaryOp", "bin", ["a", "b"], ["y"], {0: 17})
    y = run_layers([lay], {"a": a, "b": b})["y"]
    np.testing.assert_array_equal(y, REFERENCE[17](a, b))
    np.testing.assert_array_equal(y[0, :4], [0.5, -0.5, -0.5, 0.5])


# (a shape, b shape, how ncnn aligns b in numpy order) -- binaryop-broadcasting.md, binaryop.cpp
BROADCASTS = [
    ((3, 4, 5), (3,), (3, 1, 1)),        # 1-D of length c: per channel
    ((3, 4, 5), (5,), (1, 1, 5)),        # 1-D of length w
    ((3, 4, 5), (3, 4), (3, 4, 1)),      # 2-D aligns to (c, h)
    ((4, 4), (4,), (4, 1)),              # same length: the outer axis (h) wins
    ((4, 6), (6,), (1, 6)),
    ((2, 3, 4, 5), (2,), (2, 1, 1, 1)),
    ((2, 3, 4, 5), (2, 3), (2, 3, 1, 1)),
    ((2, 3, 4, 5), (2, 3, 4), (2, 3, 4, 1)),
    ((3, 4, 5), (1, 4, 1), (1, 4, 1)),   # explicit broadcast
    ((3, 4, 5), (3, 1, 5), (3, 1, 5)),
    ((3, 1, 5), (1, 4, 1), (1, 4, 1)),   # both sides broadcast
]


@pytest.mark.parametrize("sa,sb,aligned", BROADCASTS)
def test_broadcasting_follows_ncnn_rules(sa, sb, aligned):
    a = RNG.standard_normal((2,) + sa).astype(np.float32)
    b = RNG.standard_normal((2,) + sb).astype(np.float32)
    lay = layer("BinaryOp", "bin", ["a", "b"], ["y"], {0: 1})
    y = run_layers([lay], {"a": a, "b": b})["y"]
    expected = a - b.reshape((2,) + aligned)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_lower_rank_first_operand_is_aligned_too():
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    lay = layer("BinaryOp", "bin", ["a", "b"], ["y"], {0: 7})   # RSUB: b - a
    y = run_layers([lay], {"a": a, "b": b})["y"]
    np.testing.assert_allclose(y, b - a.reshape(2, 3, 1, 1), rtol=1e-6)


def test_incompatible_shapes_raise_clear_error():
    lay = layer("BinaryOp", "bin", ["a", "b"], ["y"], {0: 0})
    with pytest.raises(NcnnlikeError, match="bin.*do not broadcast"):
        run_layers([lay], {"a": np.zeros((1, 3, 4, 5), np.float32), "b": np.zeros((1, 3, 2, 5), np.float32)})


# op_type -> ((a, b), pip ncnn's answer) on special operands: what ONNX's exact functions do not give
NCNN_ANSWERS = {
    3: [((1, 0), np.nan), ((1, 1e-40), np.nan), ((1, np.inf), np.nan), ((0, 0), np.nan)],     # DIV
    4: [((1, np.nan), 1)],                                                                  # MAX
    5: [((-1, np.nan), -1)],                                                                # MIN
    6: [((0, 1.5), 2.40614363e38), ((-2, -2), 2.40614363e38), ((0, 0), 2.40614363e38),      # POW
        ((100, 100), 2.40614363e38), ((1, np.inf), 2.40614363e38), ((0.5, np.nan), 2.40614363e38)],
    10: [((0, -0.0), np.pi), ((1, np.inf), np.nan), ((np.inf, 1), np.nan), ((3e38, 0.5), np.nan)],   # ATAN2
    12: [((1, 0), np.nan), ((1, np.inf), np.nan), ((3e38, 1.5), -2.02824096e31)],           # FMOD
    14: [((np.inf, np.inf), np.inf), ((-np.inf, -np.inf), -np.inf), ((np.nan, 0), np.log(2))],   # LOGADDEXP
    15: [((1, 0), np.nan), ((3e38, 3e38), 0)],                                              # FLOOR_DIVIDE
    17: [((1, np.inf), np.nan), ((3e38, 100), -3.8029518e30)],                              # REMAINDER
}


@avx512
@pytest.mark.parametrize("op", range(19))
def test_special_operands_match_pip_ncnn(op, tmp_path):
    a_values = OPERANDS
    if op in (MAX, MIN):      # a NaN first operand gives b or NaN depending on the lane
        a_values = without(OPERANDS, np.nan)
    a, b, ours = check_binary(op, tmp_path, a_values=a_values)
    for (va, vb), expected in NCNN_ANSWERS.get(op, []):
        i = np.nonzero(_same(a, va) & _same(b, vb))[0][0]
        np.testing.assert_allclose(ours[i], np.float32(expected), rtol=1e-6, equal_nan=True,
                                   err_msg="op %d at (%r, %r)" % (op, va, vb))


def _same(values, v):
    """values == v, NaN matching NaN and -0 only -0."""
    v = np.float32(v)
    return np.isnan(values) if np.isnan(v) else (values == v) & (np.signbit(values) == np.signbit(v))


@avx512
@pytest.mark.parametrize("op", [3, 6, 8, 9, 12, 15, 17])
def test_special_scalar_operand_matches_pip_ncnn(op, tmp_path):
    for b in (0.0, 0.7, -2.0):
        x, ours = check_unary("BinaryOp op 1 1 x y 0=%d 1=1 2=%r" % (op, b), tmp_path)
        if op == 3 and b == 0:
            assert np.isnan(ours).all()                  # x / 0 is NaN in ncnn, whatever x


@avx512
@pytest.mark.parametrize("op", [12, 15, 17])
def test_fmod_floor_divide_remainder_are_bit_exact_at_exact_multiples(op, tmp_path):
    """ncnn's quotient a * rcp14-Newton(b) makes fmod(k*b, b) = b and floor_divide(k*b, b) = k - 1
    for some b: reproduced bit for bit (and so different from numpy's answer there)."""
    rng = np.random.default_rng(3)
    b = (rng.uniform(0.1, 3, 1024) * rng.choice([-1, 1], 1024)).astype(np.float32)
    a = (rng.integers(-20, 20, 1024) * b).astype(np.float32)
    text = "Input in0 0 1 a\nInput in1 0 1 b\nBinaryOp op 2 1 a b y 0=%d" % op
    ours, theirs = check_ncnn(text, {"a": a, "b": b}, tmp_path, batch=1, atol=0, rtol=0)["y"]
    np.testing.assert_array_equal(ours[0], theirs[0])
    if op != 17:
        assert (ours[0] != REFERENCE[op](a, b)).any()
