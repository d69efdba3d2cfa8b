"""BinaryOp (spec 3, binaryop.cpp): 19 element-wise ops, with a scalar or between two blobs.

Two blobs broadcast by ncnn's rules (docs/developer-guide/binaryop-broadcasting.md), which differ
from numpy's: a lower-rank operand is aligned to the *outer* axes. In numpy order (no batch):
  1-D (n,) against 2-D (h, w): (n, 1) if n == h, else (1, n)
  1-D (n,) against 3-D/4-D:    (n, 1, 1[, 1]) if n == c, else (1, 1[, 1], n)
  2-D (h, w) against 3-D/4-D:  (h, w, 1[, 1]);  3-D (c, h, w) against 4-D: (c, h, w, 1)
then every axis is either equal or 1 in one operand. The R* ops swap the operands.

The maths are pip ncnn's x86 vector code (binaryop_x86.cpp, x86_mathfun.py), measured on AVX-512:
  DIV / RDIV   a / b, but NaN where b is +-0, a denormal or +-inf (never +-inf or 0)
  POW / RPOW   exp_ps(b * log_ps(a)): 2.40614363e38 for a <= 0 whatever b (0^1.5, (-2)^2, 0^0),
               for b NaN and for 1^+-inf; at most 2.40614363e38 (never inf); a denormal or NaN a
               is read as 2^-126 and +inf as FLT_MAX
  MAX / MIN    a when b is NaN
  ATAN2        atan2_ps: atan2(+-0, -0) = pi, atan2(-0, x < 0) = pi; NaN where y / x is NaN or
               +-inf (x denormal or +-inf, or y / x overflows); a NaN operand counts as zero
  FMOD, REMAINDER, FLOOR_DIVIDE   from ncnn's 16-lane quotient a * (Newton step on vrcp14ps(b)),
               bit-exact: at or near exact multiples one step off the exact answer (fmod(x, x) = x,
               floor_divide(x, x) = 0 for ~16% of x), and NaN where b is 0, denormal or +-inf
  LOGADDEXP    +-inf with itself gives +-inf (not NaN); a NaN first operand gives b + log(2)
Not reproduced (ours are the values above): the elements a row of ncnn's BinaryOp leaves to its 8-
and 4-lane code (rcpps, a CPU-specific reciprocal estimate: FMOD / FLOOR_DIVIDE / REMAINDER at
exact multiples may differ there) and to scalar C (the last size % 4 elements: libm and a true
division, i.e. the ONNX answers: 1/0 = inf, powf, fmodf), on AVX-512 as on an AVX2-only CPU, whose
body is the 8-lane code; and a NaN first operand of MAX / MIN, which gives b or NaN depending on
the lane (ours NaN).
"""
import math

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "BinaryOp"

(ADD, SUB, MUL, DIV, MAX, MIN, POW, RSUB, RDIV, RPOW, ATAN2, RATAN2, FMOD, RFMOD, LOGADDEXP,
 FLOOR_DIVIDE, RFLOOR_DIVIDE, REMAINDER, RREMAINDER) = range(19)

# ModelWriter order: 0 1 2
PARAMS = (
    Param(0, "op_type", 0),
    Param(1, "with_scalar", 0),
    Param(2, "b", 0.0),
)


def _f(ctx, value):
    import numpy as np   # here, not at the top: model-optimize reads this module's params without numpy
    return ctx.const(np.float32(value))


def atan2(ctx, y, x):
    """atan2_ps(y, x) (after mazzo.li's vectorized atan2): with x and y both non-zero, atan(y / x)
    plus pi with y's sign when x < 0 (NaN where the division gives NaN or +-inf: atan_ps(+-inf) is
    NaN); otherwise +-pi/2 with y's sign when y != 0, else pi if x has its sign bit set (-0 too),
    0 if not. NaN is "zero" in those tests (ordered compares)."""
    from ncnnlike.layers import x86_mathfun as mathfun
    zero, pi = _f(ctx, 0), _f(ctx, math.pi)
    quotient = ctx.op("Div", [y, x])
    base = ctx.op("Atan", [quotient])
    y_neg = ctx.op("Less", [y, zero])
    shift = ctx.op("Where", [y_neg, ctx.op("Neg", [pi]), pi])
    x_neg = ctx.op("Less", [x, zero])
    left = ctx.op("Where", [x_neg, ctx.op("Add", [base, shift]), base])
    bad = ctx.op("Or", [mathfun.rcp_nan(ctx, x), ctx.op("IsInf", [quotient])])
    normal = mathfun.nan_where(ctx, bad, left)
    on_y = ctx.op("Where", [y_neg, _f(ctx, -math.pi / 2), _f(ctx, math.pi / 2)])
    x_signed = ctx.op("Or", [x_neg, ctx.op("Less", [ctx.op("Reciprocal", [x]), zero])])   # -0: 1/x = -inf
    on_x = ctx.op("Where", [x_signed, pi, zero])
    nonzero_y = _nonzero(ctx, y)
    special = ctx.op("Where", [nonzero_y, on_y, on_x])
    return ctx.op("Where", [ctx.op("And", [_nonzero(ctx, x), nonzero_y]), normal, special])


def _nonzero(ctx, x):
    """x != 0 as an ordered compare (false for NaN)."""
    zero = _f(ctx, 0)
    return ctx.op("Or", [ctx.op("Less", [x, zero]), ctx.op("Greater", [x, zero])])


def _fused_remainder(ctx, a, b, rounding):
    """a - n * b with n = rounding(q) of ncnn's AVX-512 quotient q (mathfun.rcp14_quotient), the
    multiply-subtract fused into one rounding as gcc contracts it: FMOD (n = trunc(q)) and REMAINDER
    (n = q rounded half to even). Exact fmodf / remainderf wherever n is the true quotient's; at and
    near exact multiples ncnn's n can be one off (fmod(x, x) = x for ~16% of x), and for huge
    quotients its result is far from fmodf's (fmod(3e38, 1.5) = -2.03e31), both reproduced."""
    from ncnnlike.layers import x86_mathfun as mathfun
    from ncnnlike.layers.x86_softmax import fma
    q = mathfun.rcp14_quotient(ctx, a, b)
    if rounding == "trunc":
        n = ctx.op("Where", [ctx.op("Less", [q, _f(ctx, 0)]), ctx.op("Ceil", [q]), ctx.op("Floor", [q])])
    else:
        n = ctx.op("Round", [q])
    return fma(ctx, ctx.op("Neg", [n]), b, a)


def logaddexp(ctx, x, y):
    """max + log1p(exp(min - max)), as binary_op_logaddexp; equal operands give max + log(2), also
    when both are +inf or -inf (where min - max would be NaN). A NaN x gives y + log(2) as in ncnn's
    vector lanes, whose max/min return y then (a NaN y gives NaN)."""
    from ncnnlike.layers import x86_mathfun as mathfun
    x_nan = mathfun.is_nan(ctx, x)
    hi = ctx.op("Where", [x_nan, y, ctx.op("Max", [x, y])])
    lo = ctx.op("Where", [x_nan, y, ctx.op("Min", [x, y])])
    diff = ctx.op("Where", [ctx.op("Equal", [lo, hi]), _f(ctx, 0), ctx.op("Sub", [lo, hi])])
    e = ctx.op("Exp", [diff])
    return ctx.op("Add", [hi, ctx.op("Log", [ctx.op("Add", [e, _f(ctx, 1)])])])


_SIMPLE = {ADD: "Add", SUB: "Sub", MUL: "Mul"}
_SWAPPED = {RSUB: SUB, RDIV: DIV, RPOW: POW, RATAN2: ATAN2, RFMOD: FMOD,
            RFLOOR_DIVIDE: FLOOR_DIVIDE, RREMAINDER: REMAINDER}


def emit(ctx, op_type, a, b, b_value=None):
    """ONNX nodes computing op(a, b) for ncnn op_type as pip ncnn's x86 vector code (R* ops swap
    their operands); `b_value`: b's number when b is the layer's scalar (cheaper special-case checks)."""
    from ncnnlike.layers import x86_mathfun as mathfun   # numpy: only when a graph is lowered
    if op_type in _SWAPPED:
        return emit(ctx, _SWAPPED[op_type], b, a)
    if op_type in _SIMPLE:
        return ctx.op(_SIMPLE[op_type], [a, b])
    if op_type == DIV:
        return mathfun.divide(ctx, a, b, scalar_b=b_value)
    if op_type in (MAX, MIN):
        return mathfun.max_min(ctx, "Max" if op_type == MAX else "Min", a, b, b_can_be_nan=b_value is None)
    if op_type == POW:
        return mathfun.power(ctx, a, b)
    if op_type == ATAN2:
        return atan2(ctx, a, b)
    if op_type == FMOD:
        return _fused_remainder(ctx, a, b, "trunc")
    if op_type == LOGADDEXP:
        return logaddexp(ctx, a, b)
    if op_type == FLOOR_DIVIDE:
        return ctx.op("Floor", [mathfun.rcp14_quotient(ctx, a, b)])
    if op_type == REMAINDER:
        return _fused_remainder(ctx, a, b, "round")
    raise NcnnlikeError("unknown BinaryOp op_type %d (0..18)" % op_type)


def expand(shape, other):
    """ncnn's rank expansion of `shape` against the higher-rank `other` (numpy order, no batch)."""
    shape, other = tuple(shape), tuple(other)
    r, out = len(shape), len(other)
    if r >= out:
        return shape
    if r == 1:
        outer = other[0]   # h for 2-D, c for 3-D / 4-D
        return shape + (1,) * (out - 1) if shape[0] == outer else (1,) * (out - 1) + shape
    return shape + (1,) * (out - r)


def broadcast_shapes(a, b, where):
    """(expanded a, expanded b, output shape) by ncnn's rules, or a clear error."""
    ea, eb = expand(a, b), expand(b, a)
    out = []
    for sa, sb in zip(ea, eb):
        if sa != sb and 1 not in (sa, sb):
            raise NcnnlikeError("%s: shapes %s and %s do not broadcast (ncnn rules)" % (where, tuple(a), tuple(b)))
        out.append(max(sa, sb))
    return ea, eb, tuple(out)


def lower(layer, p, ctx):
    where = "layer %s (BinaryOp)" % layer.name
    if not 0 <= p.op_type <= RREMAINDER:
        raise NcnnlikeError("%s: unknown op_type %d (0..18)" % (where, p.op_type))
    a = ctx.bottom(layer, 0)
    if p.with_scalar:
        ctx.top(layer, 0, emit(ctx, p.op_type, a, _f(ctx, p.b), b_value=p.b), ctx.in_shape(layer))
        return
    if len(layer.bottoms) != 2:
        raise NcnnlikeError("%s: expects 2 bottoms without with_scalar, got %d" % (where, len(layer.bottoms)))
    sa, sb = ctx.in_shape(layer, 0), ctx.in_shape(layer, 1)
    ea, eb, out = broadcast_shapes(sa, sb, where)
    b = ctx.bottom(layer, 1)
    if ea != tuple(sa):
        a = ctx.op("Reshape", [a, ctx.ints([0] + list(ea))])
    if eb != tuple(sb):
        b = ctx.op("Reshape", [b, ctx.ints([0] + list(eb))])
    y = emit(ctx, p.op_type, a, b)
    if p.op_type == ADD and tuple(sa) == tuple(sb):
        ctx.same_shape_adds.add(y)       # one Add node, a fused op may take it in (layers/pw_fuse.py)
    ctx.top(layer, 0, y, out)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 18, "op_type")
    checks.flag(p, "with_scalar")
    checks.finite(p, 'b')
    checks.blob_count(p, 1 if p.with_scalar else 2, 1)
