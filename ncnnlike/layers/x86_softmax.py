"""pip ncnn's x86 Softmax of rows (softmax_x86.cpp softmax(), elempack 1), value for value.

The attention layers' int8 path quantizes the softmax output again (attention_int8.py), so an
ulp there can flip an int8 value; this reproduces ncnn's float arithmetic instead of ONNX Softmax:
  - max of the row (exact in any order);
  - exp(x - max): the first 16k elements in 16-wide chunks, then at most one 8-wide and one
    4-wide chunk, with ncnn's Cephes exp (exp512_ps: fma steps, 2^n built from the exponent);
    the last < 4 elements with libm's expf: glibc's algorithm (a 32-entry table of 2^(i/32) and
    a cubic in double; glibc >= 2.27, as here), which a correctly rounded exp would miss on ~1
    value in 2000;
  - the sum: lane-wise accumulators per width, each reduced by ncnn's halving tree, combined
    as (tail + r4) + (r16 + r8) (what -ffast-math made of the source's sequential adds; measured);
  - y = e * (1 / sum).
Measured against pip ncnn on rows of length 1..300 and 1000: identical (and the expf emulation
equals this system's libm expf on 200k random arguments).
"""
import numpy as np
import onnx

from ncnnlike.layers import x86_recip

DOUBLE = onnx.TensorProto.DOUBLE
FLOAT = onnx.TensorProto.FLOAT

EXP_HI = 88.3762626647949
LOG2EF = 1.44269504088896341
EXP_C1, EXP_C2 = 0.693359375, -2.12194440e-4
EXP_P = (1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2, 1.6666665459E-1, 5.0000001201E-1)

# glibc expf (sysdeps/ieee754/flt-32/e_expf.c, e_exp2f_data.c): 2^(i/32) as stored (bits less i << 47)
EXP2F_TABLE = np.array([
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540], np.uint64)
EXP2F_POWERS = (EXP2F_TABLE + (np.arange(32, dtype=np.uint64) << np.uint64(47))).view(np.float64)
EXPF_N = 32
EXPF_INV_LN2_N = float.fromhex("0x1.71547652b82fep+0") * EXPF_N
EXPF_C = (float.fromhex("0x1.c6af84b912394p-5") / EXPF_N ** 3, float.fromhex("0x1.ebfce50fac4f3p-3") / EXPF_N ** 2,
          float.fromhex("0x1.62e42ff0c52d6p-1") / EXPF_N)


def fma(ctx, a, b, c):
    """fmaf(a, b, c) of float tensors: a*b + c in float64 (exact product), rounded once to float32
    (a double rounding can differ from fmaf only in vanishingly rare cases)."""
    a, b, c = [ctx.op("Cast", [t], to=DOUBLE) for t in (a, b, c)]
    return ctx.op("Cast", [ctx.op("Add", [ctx.op("Mul", [a, b]), c])], to=FLOAT)


def exp_cephes(ctx, x):
    """ncnn's exp512_ps / exp256_ps / exp_ps (the same arithmetic in the avx512 build) of a float tensor."""
    f = lambda v: ctx.const(np.float32(v))
    x = ctx.op("Clip", [x, f(-EXP_HI), f(EXP_HI)])
    fx = ctx.op("Floor", [fma(ctx, x, f(LOG2EF), f(0.5))])
    minus_fx = ctx.op("Neg", [fx])
    r = fma(ctx, minus_fx, f(EXP_C1), x)
    r = fma(ctx, minus_fx, f(EXP_C2), r)
    y = f(EXP_P[0])
    for coefficient in EXP_P[1:]:
        y = fma(ctx, y, r, f(coefficient))
    y = fma(ctx, y, ctx.op("Mul", [r, r]), r)
    y = ctx.op("Add", [y, f(1)])
    # 2^fx from the exponent bits: fx = -127 gives an exponent field of 0, i.e. 0.0
    pow2n = ctx.op("Pow", [f(2), fx])
    pow2n = ctx.op("Where", [ctx.op("Less", [fx, f(-126)]), f(0), pow2n])
    return ctx.op("Mul", [y, pow2n])


def expf_libm(ctx, x):
    """glibc's expf of a float tensor x <= 0 (all of it in float64, as glibc computes it):
    k = round(x * 32/ln2), r = x * 32/ln2 - k, expf = 2^(k/32) * (c0 r^3 + c1 r^2 + c2 r + 1)."""
    d = lambda v: ctx.const(np.float64(v), dtype=np.float64)
    xd = ctx.op("Cast", [x], to=DOUBLE)
    z = ctx.op("Mul", [xd, d(EXPF_INV_LN2_N)])
    k = ctx.op("Round", [ctx.op("Max", [z, d(-5000)])])       # ties to even, as glibc's shift trick
    r = ctx.op("Sub", [z, k])
    q = ctx.op("Floor", [ctx.op("Div", [k, d(EXPF_N)])])
    i = ctx.op("Cast", [ctx.op("Sub", [k, ctx.op("Mul", [q, d(EXPF_N)])])], to=onnx.TensorProto.INT64)
    s = ctx.op("Mul", [ctx.op("Gather", [ctx.const(EXP2F_POWERS, "exp2f_table", dtype=np.float64), i]),
                       ctx.op("Pow", [d(2), q])])
    c0, c1, c2 = EXPF_C
    y = ctx.op("Add", [ctx.op("Mul", [ctx.op("Add", [ctx.op("Mul", [d(c0), r]), d(c1)]), ctx.op("Mul", [r, r])]),
                       ctx.op("Add", [ctx.op("Mul", [d(c2), r]), d(1)])])
    y = ctx.op("Cast", [ctx.op("Mul", [y, s])], to=FLOAT)
    return ctx.op("Where", [ctx.op("Less", [xd, d(-150)]), ctx.const(np.float32(0)), y])


def _cols(ctx, x, start, stop):
    """x[..., start:stop]."""
    return ctx.op("Slice", [x, ctx.ints([start]), ctx.ints([stop]), ctx.ints([-1])])


def halving_sum(ctx, v, width):
    """ncnn's horizontal add of a `width`-lane accumulator (..., width) -> (..., 1)."""
    while width > 1:
        width //= 2
        v = ctx.op("Add", [_cols(ctx, v, 0, width), _cols(ctx, v, width, 2 * width)])
    return v


def chunks(length):
    """(n16, n8, n4): elements handled 16-, 8- and 4-wide; the rest (< 4) is scalar."""
    n16 = length // 16 * 16
    n8 = 8 if length - n16 >= 8 else 0
    n4 = 4 if length - n16 - n8 >= 4 else 0
    return n16, n8, n4


def softmax(ctx, x, length):
    """Softmax along the last axis (of static size `length`) of a float tensor, as ncnn's x86 code."""
    z = ctx.op("Sub", [x, ctx.op("ReduceMax", [x], axes=[-1], keepdims=1)])
    n16, n8, n4 = chunks(length)
    vector = n16 + n8 + n4
    parts = []
    if vector:
        parts.append(exp_cephes(ctx, _cols(ctx, z, 0, vector)))
    if vector < length:
        parts.append(expf_libm(ctx, _cols(ctx, z, vector, length)))
    e = parts[0] if len(parts) == 1 else ctx.op("Concat", parts, axis=-1)
    return ctx.op("Mul", [e, x86_recip.fdiv(ctx, ctx.const(np.float32(1)), _row_sum(ctx, e, length))])


def _row_sum(ctx, e, length):
    """The sum of each row of e in ncnn's order: (tail + r4) + (r16 + r8)."""
    n16, n8, n4 = chunks(length)
    vector = n16 + n8 + n4
    tail = None
    for j in range(vector, length):
        col = _cols(ctx, e, j, j + 1)
        tail = col if tail is None else ctx.op("Add", [tail, col])
    acc16 = None
    for k in range(0, n16, 16):
        chunk = _cols(ctx, e, k, k + 16)
        acc16 = chunk if acc16 is None else ctx.op("Add", [acc16, chunk])
    r16 = halving_sum(ctx, acc16, 16) if n16 else None
    r8 = halving_sum(ctx, _cols(ctx, e, n16, n16 + 8), 8) if n8 else None
    r4 = halving_sum(ctx, _cols(ctx, e, n16 + n8, vector), 4) if n4 else None
    left = _add(ctx, tail, r4)
    right = _add(ctx, r16, r8)
    return _add(ctx, left, right)


def _add(ctx, a, b):
    """a + b where either may be absent (None)."""
    if a is None or b is None:
        return a if b is None else b
    return ctx.op("Add", [a, b])
