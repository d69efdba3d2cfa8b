"""The reciprocals pip ncnn's x86 build really computes, as ONNX ops (for attention_int8.py).

ncnn's release build uses -ffast-math, so GCC replaces a *vectorized* float division a/b with
a * x1, where x1 is one Newton step from the CPU's reciprocal estimate x0 of b:
    x1 = (x0 + x0) - x0 * (x0 * b)                    (gcc ix86_emit_swdivsf, no fma)
x0 is vrcp14ps for 16-wide (zmm) code and the legacy rcpps for narrower vectors (8, 4, and the
2 lanes gcc's SLP vectorizer makes of paired scalar code); single scalar code keeps a division.
Measured against pip ncnn (1.0.20261020) on Gemm int8: these forms make its descales bit-exact,
where a plain division is off by one ulp on about a third of the rows.

rcp14 is architecturally defined (Intel's reference RECIP14.c: linear interpolation on 64 segments
of the top 16 fraction bits); it is computed here from the mantissa with exact float64 ops.
rcpps is CPU-specific (AMD and Intel differ): it is read from pip ncnn running it
(int8.x86_rcp) into a table indexed by the top 12 fraction bits, after checking that the CPU's
result depends on no other bit. Where that is impossible (not x86, or a CPU whose rcpps reads
more bits) `rcpss_table()` is None and the callers fall back to a true division (one ulp off on
some rows).

ONNX has no bit cast, so the mantissa is found with float ops: e = floor(log2(x)) corrected by
comparing with 2^e, m = x / 2^e in [1, 2), both exact in float64. Inputs must be positive and
normal (the callers guard zero).
"""
import functools
import math

import numpy as np
import onnx

from ncnnlike.layers import int8

DOUBLE = onnx.TensorProto.DOUBLE
FLOAT = onnx.TensorProto.FLOAT

# RECIP14.c RCP14_Coeff: (slope b, value a) per segment i of the fraction's top 6 bits
RCP14_COEFF = np.array([
    1009, 260119, 977, 256148, 949, 252296, 921, 248558, 893, 244929, 869, 241405, 843, 237981, 821, 234652,
    797, 231416, 777, 228266, 755, 225202, 735, 222220, 717, 219314, 699, 216485, 681, 213727, 663, 211038,
    647, 208417, 631, 205859, 617, 203364, 601, 200929, 587, 198551, 573, 196229, 561, 193960, 547, 191743,
    535, 189576, 523, 187458, 513, 185387, 501, 183360, 491, 181377, 479, 179439, 469, 177540, 459, 175681,
    451, 173860, 441, 172077, 433, 170330, 423, 168618, 415, 166940, 407, 165295, 399, 163682, 391, 162101,
    385, 160550, 377, 159027, 369, 157535, 363, 156069, 357, 154631, 349, 153219, 343, 151832, 337, 150470,
    331, 149133, 325, 147819, 319, 146528, 315, 145260, 309, 144012, 303, 142787, 299, 141582, 293, 140397,
    289, 139232, 285, 138085, 279, 136959, 275, 135853, 271, 134763, 267, 133689, 263, 132631, 259, 131589],
    np.float64).reshape(64, 2)

RCPSS_BITS = 12      # AMD Zen 4's rcpss reads the top 12 fraction bits


@functools.lru_cache(maxsize=None)
def rcpss_table():
    """rcpps(1 + i/4096) for i < 4096 on this CPU (read from pip ncnn by int8.x86_rcp, no machine
    code of ours), or None when unavailable or when the CPU's estimate depends on more than the top
    12 fraction bits (checked on random mantissas and exponents)."""
    rcp = int8.x86_rcp()
    if rcp is None:
        return None
    n = 1 << RCPSS_BITS
    try:
        table = np.asarray(rcp(np.float32(1) + np.arange(n, dtype=np.float32) / np.float32(n)), np.float64)
        rng = np.random.default_rng(0)
        m = rng.integers(0, 1 << 23, 2000)
        e = rng.integers(-20, 20, 2000)
        x = ((np.float64(1) + m / 2.0 ** 23) * 2.0 ** e).astype(np.float32)
        expected = (table[m >> (23 - RCPSS_BITS)] * 2.0 ** -e).astype(np.float32)
        if not np.array_equal(np.asarray(rcp(x), np.float32), expected):
            return None
    except (ImportError, RuntimeError, OSError):
        return None
    return table


def _d(ctx, value):
    """A float64 scalar constant."""
    return ctx.const(np.float64(value), dtype=np.float64)


def mantissa(ctx, x):
    """(m, p) in float64 with x = m * p, m in [1, 2), p a power of two; x positive and normal."""
    xd = ctx.op("Cast", [x], to=DOUBLE)
    e = ctx.op("Floor", [ctx.op("Mul", [ctx.op("Log", [xd]), _d(ctx, 1 / math.log(2))])])
    p = ctx.op("Pow", [_d(ctx, 2), e])
    below = ctx.op("Cast", [ctx.op("Less", [xd, p])], to=DOUBLE)
    above = ctx.op("Cast", [ctx.op("GreaterOrEqual", [xd, ctx.op("Mul", [p, _d(ctx, 2)])])], to=DOUBLE)
    p = ctx.op("Pow", [_d(ctx, 2), ctx.op("Add", [ctx.op("Sub", [e, below]), above])])
    return ctx.op("Div", [xd, p]), p


def _fraction_index(ctx, m, bits):
    """floor((m - 1) * 2^bits): the top `bits` fraction bits of m, as float64."""
    return ctx.op("Floor", [ctx.op("Mul", [ctx.op("Sub", [m, _d(ctx, 1)]), _d(ctx, 2.0 ** bits)])])


def rcp14(ctx, x):
    """vrcp14ps of a positive normal float tensor (Intel RECIP14.c, exact): on segment i of the top
    16 fraction bits f16, significand = floor((256 a_i - b_i (f16 - centre_i)) / 512) / 2^17."""
    m, p = mantissa(ctx, x)
    f16 = _fraction_index(ctx, m, 16)
    segment = ctx.op("Floor", [ctx.op("Div", [f16, _d(ctx, 1024)])])
    index = ctx.op("Cast", [segment], to=onnx.TensorProto.INT64)
    slope = ctx.op("Gather", [ctx.const(RCP14_COEFF[:, 0], "rcp14_b", dtype=np.float64), index])
    value = ctx.op("Gather", [ctx.const(RCP14_COEFF[:, 1], "rcp14_a", dtype=np.float64), index])
    centre = ctx.op("Add", [ctx.op("Mul", [segment, _d(ctx, 1024)]), _d(ctx, 512)])
    numerator = ctx.op("Sub", [ctx.op("Mul", [value, _d(ctx, 256)]),
                               ctx.op("Mul", [slope, ctx.op("Sub", [f16, centre])])])
    significand = ctx.op("Floor", [ctx.op("Div", [numerator, _d(ctx, 512)])])
    exact = ctx.op("Equal", [m, _d(ctx, 1)])                  # a power of two: exactly 1/x
    significand = ctx.op("Where", [exact, _d(ctx, 2.0 ** 17), significand])
    scaled = ctx.op("Div", [significand, _d(ctx, 2.0 ** 17)])
    return ctx.op("Cast", [ctx.op("Div", [scaled, p])], to=FLOAT)


def rcpss(ctx, x):
    """This CPU's rcpps of a positive normal float tensor (table of rcpss_table(); callers check it)."""
    m, p = mantissa(ctx, x)
    index = ctx.op("Cast", [_fraction_index(ctx, m, RCPSS_BITS)], to=onnx.TensorProto.INT64)
    table = ctx.op("Gather", [ctx.const(rcpss_table(), "rcpss_table", dtype=np.float64), index])
    return ctx.op("Cast", [ctx.op("Div", [table, p])], to=FLOAT)


def newton(ctx, x0, b):
    """One Newton step on the estimate x0 of 1/b, as gcc emits it: (x0 + x0) - x0 * (x0 * b)."""
    e0 = ctx.op("Mul", [x0, ctx.op("Mul", [x0, b])])
    return ctx.op("Sub", [ctx.op("Add", [x0, x0]), e0])


def fdiv(ctx, a, b):
    """The float32 quotient a / b, computed in float64 and rounded (always the correctly rounded
    float quotient: it is never close enough to a float midpoint for the double rounding to
    matter). Not a float Div: onnxruntime rewrites Mul(x, Div(1, y)) into Div(x, y), which changes
    the rounding of ncnn's x * (1/y)."""
    quotient = ctx.op("Div", [ctx.op("Cast", [a], to=DOUBLE), ctx.op("Cast", [b], to=DOUBLE)])
    return ctx.op("Cast", [quotient], to=FLOAT)


def divide(ctx, a, b, kind):
    """a / b the way ncnn's compiled code does it: kind "exact" (scalar code, a true division),
    "rcp14" (16-wide code) or "rcpss" (8-, 4- and 2-wide code); a may be None for 1 / b."""
    if kind == "rcpss" and rcpss_table() is None:
        kind = "exact"
    if kind == "exact":
        return fdiv(ctx, a if a is not None else ctx.const(np.float32(1)), b)
    x1 = newton(ctx, (rcp14 if kind == "rcp14" else rcpss)(ctx, b), b)
    return x1 if a is None else ctx.op("Mul", [a, x1])
