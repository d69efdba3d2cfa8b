"""Cast: fp32 <-> fp16 / bf16 rounding as pip ncnn's x86 kernels do it (SIMD part round to nearest
even, scalar tail round half away, their different flushes) on every packed layout, exact; int8 ->
fp32 after a Quantize; the pairs ncnn cannot do refused."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import batch_of, check_ncnn, make_model, run_ncnn, run_ours

from ncnnlike.errors import NcnnlikeError

U7, U10 = 2.0 ** -7, 2.0 ** -10
# values where the two roundings or the two flushes differ
BF16_CASES = [1 + 0.5 * U7, -(1 + 0.5 * U7), 1 + 1.5 * U7, 3e-39, -3e-39, 2 + U7, 1e-38, 1 + 0.25 * U7, 0.7]
FP16_CASES = [1 + 0.5 * U10, -(1 + 0.5 * U10), 1 + 1.5 * U10, 1e-6, -3e-7, 6.1e-5, 65519.0, 65520.0, 0.3]

# shapes giving each packed layout: 1-D tails, 2-D rows packed by 4/16, 3-D/4-D channels by 1/4/8/16
SHAPES = [(21,), (16,), (4, 3), (5, 3), (16, 3), (3, 1, 7), (4, 1, 3), (8, 1, 3), (12, 2, 3), (16, 1, 5),
          (4, 2, 1, 3)]


def filled(shape, cases, seed):
    """Every element one of `cases`, shuffled so each lands on SIMD and scalar positions."""
    rng = np.random.default_rng(seed)
    return rng.choice(np.asarray(cases, np.float32), size=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_fp16_extract_matches_ncnn_exactly(tmp_path, shape):
    check_ncnn("""
    Input in0 0 1 x
    Cast  c   1 1 x y 0=1 1=2
    """, {"x": filled(shape, FP16_CASES, len(shape))}, tmp_path, atol=0, rtol=0)


@pytest.mark.parametrize("shape", SHAPES)
def test_bf16_round_trip_matches_ncnn_exactly(tmp_path, shape):
    check_ncnn("""
    Input in0 0 1 x
    Cast  c   1 1 x h 0=1 1=4
    Cast  b   1 1 h y 0=4 1=1
    """, {"x": filled(shape, BF16_CASES, len(shape))}, tmp_path, atol=0, rtol=0)


def test_fp16_round_trip_is_the_fp16_values(tmp_path):
    x = filled((4, 2, 1, 3), FP16_CASES, 0)
    outs = check_ncnn("""
    Input in0 0 1 x
    Cast  c   1 1 x h 0=1 1=2
    Cast  b   1 1 h y 0=2 1=1
    """, {"x": x}, tmp_path, atol=0, rtol=0)
    assert outs["y"][1][0].dtype == np.float32


def test_extracted_bf16_blob_is_the_bits_pip_ncnn_returns_as_float16(tmp_path):
    """pip ncnn hands a bf16 Mat to numpy as float16: read those bits as bf16, they are ours."""
    param, binfile, _ = make_model("""
    Input in0 0 1 x
    Cast  c   1 1 x h 0=1 1=4
    """, tmp_path)
    feeds = batch_of({"x": filled((12, 2, 3), BF16_CASES, 3)}, 2)
    theirs = run_ncnn(param, binfile, feeds, ["h"])["h"]
    ours = run_ours(param, binfile, feeds, ["h"])["h"]
    for i, ref in enumerate(theirs):
        assert ref.dtype == np.float16
        bits = (ref.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        np.testing.assert_array_equal(ours[i], bits)


def test_int8_to_fp32_after_quantize_matches_ncnn(tmp_path):
    check_ncnn("""
    Input    in0 0 1 x
    Quantize q   1 1 x t 0=1
    Cast     c   1 1 t y 0=3 1=1
    """, {"x": np.random.default_rng(0).standard_normal((8, 3, 4))}, tmp_path, atol=0, rtol=0,
        weights={"q": {"scale_data": [30.0]}})


def test_same_type_is_identity():
    x = np.float32([[1 + 0.5 * U10, 3e-39]])
    np.testing.assert_array_equal(run_layers([layer("Cast", "c", ["x"], ["y"], {0: 2, 1: 2})], {"x": x})["y"], x)


@pytest.mark.parametrize("params", [{0: 1, 1: 3}, {0: 2, 1: 4}, {0: 0, 1: 1}, {0: 3, 1: 1}, {0: 1, 1: 5}])
def test_conversions_ncnn_cannot_do_raise(params):
    with pytest.raises(NcnnlikeError, match="c.*Cast.*cannot cast"):
        run_layers([layer("Cast", "c", ["x"], ["y"], params)], {"x": np.zeros((1, 4), np.float32)})
