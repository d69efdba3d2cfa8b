"""UnaryOp (spec 3, unaryop.cpp): 28 element-wise functions of 0=op_type.

ROUND is nearbyintf under FE_TONEAREST, i.e. half to even (ONNX Round). TRUNC, EXPM1 and LOG1P have
no ONNX op; EXPM1 / LOG1P use a short series near 0 so small values keep their relative precision.

Special inputs give what pip ncnn's x86 vector code gives (unaryop_x86.cpp, x86_mathfun.py), not
the exact function's answer; ordinary inputs are unchanged (ncnn's approximations agree to float
rounding). Measured on AVX-512, where every element goes through 16-lane code (masked tail):
  EXP    2.40614363e38 for x >= 88.38 (never inf)          EXPM1  the same, and NaN -> 2.4e38
  LOG    x <= 0 -> NaN (not -inf), denormal and NaN -> -87.3365479, +inf -> 88.7228394
  LOG10  LOG * 0.4342945: NaN, -37.9297829, 38.5318413       LOG1P  LOG(1 + x): x = -1 -> NaN
  RECIPROCAL  NaN at +-0, denormals, +-inf                   RSQRT  NaN at +-0 and +inf
  SINH / COSH  +-1.20307181e38 / 1.20307181e38 for |x| >= 88.38; NaN -> 0 / +inf
  ASINH  +-inf -> +-89.4159851, NaN -> -87.3365479         ACOSH  x < 1, -inf, NaN -> -87.3365479
  ATANH  +-1 -> NaN (not +-inf), NaN -> 0                   ATAN   +-inf -> NaN
  TANH   NaN -> -1                                           SIGN   NaN -> 0
  SIN / COS / TAN  for finite |x| * 4/pi >= 2^31 (|x| >= 1.69e9): sin -sign(x)*inf, cos +inf
         (NaN past |x| = 2^64), tan NaN.
Not reproduced: EXP(NaN), 0 in full 16-lane blocks and 2.4e38 in the masked tail (ours NaN);
sin / cos / tan for 1e8 < |x| < 1.69e9, where ncnn's float range reduction drifts (sin(1e8) =
0.93090, true 0.93164; sin(1e9) = 13.29): ours are the true values; and on an AVX2-only CPU (same
vector code, 8 and 4 lanes) the last size % 4 elements of each channel, which ncnn runs through libm
with the exact functions' answers.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks
from ncnnlike.layers import x86_mathfun as mathfun

TYPE = "UnaryOp"

(ABS, NEG, FLOOR, CEIL, SQUARE, SQRT, RSQRT, EXP, LOG, SIN, COS, TAN, ASIN, ACOS, ATAN, RECIPROCAL,
 TANH, LOG10, ROUND, TRUNC, SIGN, EXPM1, SINH, ASINH, COSH, ACOSH, ATANH, LOG1P) = range(28)

# ModelWriter order: 0
PARAMS = (
    Param(0, "op_type", 0),
)

_DIRECT = {ABS: "Abs", NEG: "Neg", FLOOR: "Floor", CEIL: "Ceil", SQRT: "Sqrt", ASIN: "Asin", ACOS: "Acos",
           ROUND: "Round"}

SERIES_LIMIT = 1e-2   # |x| below this: 4-term Taylor series, relative error < 1e-8
FOPI = np.float32(1.27323954473516)   # cephes_FOPI: sin/cos/tan reduce |x| * 4/pi to an int32
INT32_LIMIT = np.float32(2.0 ** 31)


def _f(ctx, value):
    return ctx.const(np.float32(value))


def _series(ctx, x, coeffs):
    """x*(c1 + x*(c2 + x*(c3 + x*c4))) by Horner's rule."""
    acc = _f(ctx, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = ctx.op("Add", [ctx.op("Mul", [acc, x]), _f(ctx, c)])
    return ctx.op("Mul", [acc, x])


def _near_zero(ctx, x, series, general):
    small = ctx.op("Less", [ctx.op("Abs", [x]), _f(ctx, SERIES_LIMIT)])
    return ctx.op("Where", [small, series, general])


def _on_nan(ctx, x, value, y):
    """`value` where x is NaN (ncnn's answer for a NaN input, the same in every lane), else y."""
    return ctx.op("Where", [mathfun.is_nan(ctx, x), _f(ctx, value), y])


def _clamped(ctx, op_type, x, limit):
    """op(clip(x, -limit, limit)): exp-based ncnn functions saturate at the exp clamp."""
    return ctx.op(op_type, [ctx.op("Clip", [x, _f(ctx, -limit), _f(ctx, limit)])])


def _beyond_int32(ctx, x):
    """|x| * 4/pi >= 2^31 (finite x): the int32 conversion of the range reduction overflows and
    ncnn's sin / cos / tan return inf or NaN."""
    reduced = ctx.op("Mul", [ctx.op("Abs", [x]), _f(ctx, FOPI)])
    big = ctx.op("GreaterOrEqual", [reduced, _f(ctx, INT32_LIMIT)])
    return ctx.op("And", [big, ctx.op("Not", [ctx.op("IsInf", [x])])])


def _sin(ctx, x):
    """-sign(x) * inf past the int32 limit."""
    huge = ctx.op("Mul", [ctx.op("Sign", [x]), _f(ctx, -np.inf)])
    return ctx.op("Where", [_beyond_int32(ctx, x), huge, ctx.op("Sin", [x])])


def _cos(ctx, x):
    """+inf past the int32 limit, NaN once the reduced argument's square overflows (|x| > 2^64)."""
    square_inf = ctx.op("IsInf", [ctx.op("Mul", [x, x])])
    huge = ctx.op("Where", [square_inf, _f(ctx, np.nan), _f(ctx, np.inf)])
    return ctx.op("Where", [_beyond_int32(ctx, x), huge, ctx.op("Cos", [x])])


def _tan(ctx, x):
    """NaN past the int32 limit."""
    return mathfun.nan_where(ctx, _beyond_int32(ctx, x), ctx.op("Tan", [x]))


def _rsqrt(ctx, x):
    """rsqrt + Newton step: NaN at +-0 and +inf (0 * inf inside the step)."""
    bad = ctx.op("Or", [ctx.op("Equal", [x, _f(ctx, 0)]), ctx.op("IsInf", [x])])
    return mathfun.nan_where(ctx, bad, ctx.op("Reciprocal", [ctx.op("Sqrt", [x])]))


def _reciprocal(ctx, x):
    """1 / x as a vector division: NaN at +-0, denormals, +-inf."""
    return mathfun.nan_where(ctx, mathfun.rcp_nan(ctx, x), ctx.op("Reciprocal", [x]))


def _atan(ctx, x):
    """atan_ps divides -1 by |x| for |x| > 1: NaN at +-inf."""
    return mathfun.nan_where(ctx, ctx.op("IsInf", [x]), ctx.op("Atan", [x]))


def _expm1(ctx, x):
    """exp_ps(x) - 1 (2.40614363e38 past the clamp, and for NaN), the series near 0."""
    general = ctx.op("Sub", [mathfun.exp(ctx, x), _f(ctx, 1)])
    y = _near_zero(ctx, x, _series(ctx, x, [1, 1 / 2, 1 / 6, 1 / 24]), general)
    return _on_nan(ctx, x, mathfun.EXP_MAX, y)


def _log1p(ctx, x):
    """log_ps(1 + x): NaN for x <= -1, 88.7228394 for +inf, -87.3365479 for NaN; the series near 0."""
    general = mathfun.log(ctx, ctx.op("Add", [x, _f(ctx, 1)]))
    return _near_zero(ctx, x, _series(ctx, x, [1, -1 / 2, 1 / 3, -1 / 4]), general)


def _acosh(ctx, x):
    """log_ps(x + sqrt(x-1)*sqrt(x+1)): x < 1, -inf and NaN give log_ps(NaN) = -87.3365479; +inf
    gives 89.4159851 (= acosh(FLT_MAX))."""
    y = ctx.op("Acosh", [ctx.op("Min", [x, _f(ctx, mathfun.FLT_MAX)])])
    return ctx.op("Where", [ctx.op("GreaterOrEqual", [x, _f(ctx, 1)]), y, _f(ctx, mathfun.LOG_MIN_NORM)])


def _atanh(ctx, x):
    """(log1p(x) - log1p(-x)) / 2: NaN at +-1 (log_ps(0)), 0 for NaN."""
    y = mathfun.nan_where(ctx, ctx.op("Equal", [ctx.op("Abs", [x]), _f(ctx, 1)]), ctx.op("Atanh", [x]))
    return _on_nan(ctx, x, 0, y)


# op_type -> ncnn's x86 function as ONNX ops; each note says what differs from the exact function
_NCNN = {
    RSQRT: _rsqrt,
    EXP: mathfun.exp,                                                         # at most 2.4e38
    LOG: mathfun.log,                                                         # mathfun.log
    SIN: _sin, COS: _cos, TAN: _tan,
    ATAN: _atan,
    RECIPROCAL: _reciprocal,
    TANH: lambda ctx, x: _on_nan(ctx, x, -1, ctx.op("Tanh", [x])),           # 2*sigmoid(2x) - 1
    LOG10: lambda ctx, x: ctx.op("Mul", [mathfun.log(ctx, x), _f(ctx, 1 / np.log(10))]),
    SIGN: lambda ctx, x: _on_nan(ctx, x, 0, ctx.op("Sign", [x])),            # compares: NaN -> 0
    EXPM1: _expm1,
    SINH: lambda ctx, x: _on_nan(ctx, x, 0, _clamped(ctx, "Sinh", x, mathfun.EXP_HI)),
    COSH: lambda ctx, x: _on_nan(ctx, x, np.inf, _clamped(ctx, "Cosh", x, mathfun.EXP_HI)),
    ASINH: lambda ctx, x: _on_nan(ctx, x, mathfun.LOG_MIN_NORM, _clamped(ctx, "Asinh", x, mathfun.FLT_MAX)),
    ACOSH: _acosh,
    ATANH: _atanh,
    LOG1P: _log1p,
}


def emit(ctx, op_type, x):
    """ONNX nodes computing ncnn UnaryOp `op_type` of float tensor x, as pip ncnn's x86 code."""
    if op_type in _DIRECT:
        return ctx.op(_DIRECT[op_type], [x])
    if op_type in _NCNN:
        return _NCNN[op_type](ctx, x)
    if op_type == SQUARE:
        return ctx.op("Mul", [x, x])
    if op_type == TRUNC:
        return ctx.op("Where", [ctx.op("Less", [x, _f(ctx, 0)]), ctx.op("Ceil", [x]), ctx.op("Floor", [x])])
    raise NcnnlikeError("unknown UnaryOp op_type %d (0..27)" % op_type)


def lower(layer, p, ctx):
    if not 0 <= p.op_type <= LOG1P:
        raise NcnnlikeError("layer %s (UnaryOp): unknown op_type %d (0..27)" % (layer.name, p.op_type))
    ctx.top(layer, 0, emit(ctx, p.op_type, ctx.bottom(layer)), ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 27, "op_type")
