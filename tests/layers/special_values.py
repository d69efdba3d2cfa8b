"""Special and extreme float32 inputs for the pip ncnn parity tests of the element-wise layers.

pip ncnn's x86 answers on these depend on which code path runs an element (ncnn/layers/x86_mathfun.py):
they were measured on AVX-512, where UnaryOp, Sigmoid, TanH and Erf run every element in 16-lane
code and the other element-wise layers do so for whole 16-element blocks. The checks therefore use
1-D blobs whose length is a multiple of 16 unless `any_size`, and skip on CPUs without AVX-512
(an AVX2-only CPU runs 8- and 4-lane code and scalar C for a row's last elements).
"""
import numpy as np
import pytest

from oracle import check_ncnn, cpu_flags

SPECIAL = np.array([
    0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-30, -1e-30, 1e-40, -1e-40, 1e-45,   # tiny, denormal
    10.0, -10.0, 20.0, -20.0, 80.0, -80.0, 88.0, -88.0, 88.5, -88.5, 89.0, -89.0,    # exp clamp 88.376
    100.0, -100.0, 1e10, -1e10, 1e20, -1e20, 3e38, -3e38,                            # huge
    np.inf, -np.inf, np.nan], np.float32)

# the 16 operands whose 256 pairs the BinaryOp checks use
OPERANDS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 1.5, -1.5, 1e-40, 100.0, -100.0, 3e38, -3e38,
                     np.inf, -np.inf, np.nan], np.float32)


avx512 = pytest.mark.skipif("avx512f" not in cpu_flags(),
                            reason="pip ncnn's answers on special inputs were measured on AVX-512 lanes")


def without(values, *drop):
    """`values` less the given ones (NaN matched as NaN)."""
    drop = np.asarray(drop, np.float32)
    keep = [v for v in values if not any(v == d or (np.isnan(v) and np.isnan(d)) for d in drop)]
    return np.array(keep, np.float32)


def tiled(values, multiple=16):
    """`values` repeated up to the next multiple of `multiple` elements (whole 16-lane blocks)."""
    n = -(-len(values) // multiple) * multiple
    return np.resize(values, n).astype(np.float32)


def check_unary(layer_line, tmp_path, values=SPECIAL, any_size=False):
    """Run `Input -> layer_line` (bottom x, top y) on `values` in pip ncnn and ours, one sample (a
    perturbed copy of inf or NaN means nothing), NaN equal to NaN; returns (x, ours) as 1-D arrays.
    With `any_size` the values are also run rotated at length 35 (a 16-lane masked tail)."""
    x = values if any_size else tiled(values)
    ours = _run(layer_line, x, tmp_path)
    if any_size:
        rotated = np.resize(np.roll(values, 7), 35).astype(np.float32)
        _run(layer_line, rotated, tmp_path)
    return x, ours


def _run(layer_line, x, tmp_path):
    out = check_ncnn("Input in 0 1 x\n" + layer_line, {"x": x}, tmp_path, batch=1, atol=1e-6, rtol=1e-5)
    return out["y"][0][0]


def check_binary(op_type, tmp_path, a_values=OPERANDS, b_values=OPERANDS):
    """BinaryOp `op_type` on every pair (a, b) in pip ncnn and ours; returns (a, b, ours)."""
    a = np.repeat(a_values, len(b_values)).astype(np.float32)
    b = np.tile(b_values, len(a_values)).astype(np.float32)
    a, b = tiled(a), tiled(b)
    text = "Input in0 0 1 a\nInput in1 0 1 b\nBinaryOp op 2 1 a b y 0=%d" % op_type
    out = check_ncnn(text, {"a": a, "b": b}, tmp_path, batch=1, atol=1e-6, rtol=1e-5)
    return a, b, out["y"][0][0]


def at(x, ours, value):
    """Our output where the input is `value` (the first such element)."""
    index = np.nonzero((x == np.float32(value)) | (np.isnan(x) & np.isnan(np.float32(value))))[0][0]
    return ours[index]
