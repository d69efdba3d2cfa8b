"""What pip ncnn's x86 element-wise maths gives on special inputs, as ONNX ops around the exact ones.

ncnn's x86 layers run element-wise functions 16, 8 or 4 lanes at a time through its own Cephes-style
approximations (src/layer/x86/sse_mathfun.h, avx_mathfun.h, avx512_mathfun.h), and its release
build (-ffast-math) turns every vector division a/b into a * x1, x1 one Newton step on the CPU's
reciprocal estimate of b (x86_recip.py). On ordinary inputs that agrees with the exact ONNX ops to
float rounding; on special inputs it does not, and the helpers here reproduce ncnn's answer while
leaving ordinary values bit-identical to the plain ONNX op:

  exp    x is clamped to 88.3762626647949 first: exp(x) = 2.40614363e38 for every larger x, never inf
  log    x <= 0 (-0 too) gives NaN (never -inf); a denormal or NaN x is read as 2^-126, giving
         -87.3365479; +inf is read as 2^128, giving 88.7228394
  a / b  b = +-0, a denormal or +-inf gives NaN: the estimate is +-inf or +-0 and the Newton step
         computes inf - inf or 0 * inf (never +-inf, never 0)
  pow    exp(b * log(a)) with the two above: 2.40614363e38 for a <= 0 whatever b (0^1.5, (-2)^2),
         for b = NaN, for 1^+-inf, and wherever the true power is larger
  max    BinaryOp's std::max / maxps as compiled: max(a, NaN) = a (min the same)
  a - n*b  fmod / remainder / floor_divide take n from ncnn's 16-lane quotient (rcp14_quotient),
         which at exact multiples can be one off the true quotient: reproduced bit for bit

Measured against pip ncnn 1.0.20261020 on an AVX-512 CPU (AMD EPYC, Zen 4): its 16-lane code, and
the masked 16-lane tail of UnaryOp, Sigmoid, TanH and Erf. The clamps and domains are the shared
mathfun source, and the 8- and 4-lane code an AVX2-only CPU runs (legacy rcpps) also gives inf at 0
and 0 at inf, so the same answers are expected there (not measured on such a CPU). Not reproduced,
and said so in each layer's docstring: the leftover elements of a row that ncnn runs in scalar C
(libm: log(0) = -inf, 1/0 = inf, as ONNX), which is every layer's last size % 4 elements on an
AVX2-only CPU and, in the layers without a masked tail (BinaryOp, Swish, Mish, GELU, ELU, SELU,
BNLL, HardSwish, HardSigmoid), on AVX-512 too; and NaN inputs whose result depends on the lane
(the fast-math build lets the compiler swap the operands of maxps/minps, which return their second
operand when one is NaN: UnaryOp EXP gives 0 for NaN in full 16-lane blocks, 2.4e38 in the tail).
"""
import numpy as np

EXP_HI = np.float32(88.3762626647949)        # exp_hi of the mathfun headers
EXP_MAX = np.float32(2.40614363e38)          # exp at EXP_HI (= Exp(EXP_HI) in onnxruntime, bit for bit)
MIN_NORM = np.float32(2.0 ** -126)           # min_norm_pos: log's input floor
FLT_MAX = np.float32(np.finfo(np.float32).max)
LOG_MIN_NORM = np.float32(-87.3365479)       # log(2^-126): log of a denormal or NaN
NAN = np.float32(np.nan)


def f(ctx, value):
    """A float32 scalar constant."""
    return ctx.const(np.float32(value))


def nan_where(ctx, cond, y):
    """NaN where `cond`, else y."""
    return ctx.op("Where", [cond, f(ctx, NAN), y])


def is_nan(ctx, x):
    return ctx.op("IsNaN", [x])


def exp_arg(ctx, x):
    """x as exp_ps reads it: at most EXP_HI (NaN stays NaN: ncnn's answer for it depends on the lane)."""
    return ctx.op("Min", [x, f(ctx, EXP_HI)])


def exp(ctx, x):
    """exp_ps: exp(min(x, 88.3762626647949)), at most 2.40614363e38."""
    return ctx.op("Exp", [exp_arg(ctx, x)])


def log_arg(ctx, x):
    """x as log_ps reads it: below 2^-126 (denormals, zero, negatives) and NaN -> 2^-126, +inf ->
    FLT_MAX (whose log is log_ps(+inf) = 88.7228394, bit for bit)."""
    floor = f(ctx, MIN_NORM)
    normal = ctx.op("Where", [ctx.op("GreaterOrEqual", [x, floor]), x, floor])
    return ctx.op("Min", [normal, f(ctx, FLT_MAX)])


def log_invalid(ctx, x):
    """Where log_ps gives NaN: x <= 0, -0 and -inf included (not NaN: NaN reads as 2^-126)."""
    return ctx.op("LessOrEqual", [x, f(ctx, 0)])


def log(ctx, x):
    """log_ps: NaN for x <= 0, -87.3365479 for denormals and NaN, 88.7228394 for +inf."""
    return nan_where(ctx, log_invalid(ctx, x), ctx.op("Log", [log_arg(ctx, x)]))


def rcp_nan(ctx, b):
    """Where a / b gives NaN in ncnn (reciprocal estimate +-inf or +-0): b = +-0, denormal, +-inf
    (and NaN)."""
    ab = ctx.op("Abs", [b])
    tiny_or_nan = ctx.op("Not", [ctx.op("GreaterOrEqual", [ab, f(ctx, MIN_NORM)])])
    return ctx.op("Or", [tiny_or_nan, ctx.op("IsInf", [ab])])


def scalar_rcp_nan(b):
    """rcp_nan for a number known when lowering (BinaryOp's scalar b)."""
    return not (MIN_NORM <= abs(np.float32(b)) <= FLT_MAX)


def divide(ctx, a, b, scalar_b=None):
    """a / b as ncnn's vector code: Div, NaN where rcp_nan(b). `scalar_b`: b's value when it is a
    constant, so that the check costs nothing."""
    q = ctx.op("Div", [a, b])
    if scalar_b is not None:
        return ctx.op("Mul", [q, f(ctx, NAN)]) if scalar_rcp_nan(scalar_b) else q
    return nan_where(ctx, rcp_nan(ctx, b), q)


def power(ctx, a, b):
    """pow_ps(a, b) = exp_ps(b * log_ps(a)): Pow on log_ps's reading of a, at most EXP_MAX, and
    EXP_MAX where b * log(a) is NaN (a <= 0, b NaN, a = 1 with b = +-inf). Pow itself (not exp of
    a product) keeps ordinary values as they were; below 2^-126 ncnn's exp gives 0 or a denormal
    where Pow gives a denormal (an absolute difference under 1.2e-38)."""
    y = ctx.op("Min", [ctx.op("Pow", [log_arg(ctx, a), b]), f(ctx, EXP_MAX)])
    one_to_inf = ctx.op("And", [ctx.op("Equal", [a, f(ctx, 1)]), ctx.op("IsInf", [b])])
    nan_product = ctx.op("Or", [ctx.op("Or", [log_invalid(ctx, a), is_nan(ctx, b)]), one_to_inf])
    return ctx.op("Where", [nan_product, f(ctx, EXP_MAX), y])


def max_min(ctx, op_type, a, b, b_can_be_nan=True):
    """Max / Min as ncnn compiled them (std::max(a, b) = a < b ? b : a, and maxps in its lanes):
    a when b is NaN. (A NaN a gives NaN or b depending on the lane; here NaN.)"""
    y = ctx.op(op_type, [a, b])
    return ctx.op("Where", [is_nan(ctx, b), a, y]) if b_can_be_nan else y


def rcp14_quotient(ctx, a, b):
    """a * x1(b) as ncnn's 16-lane AVX-512 code computes a / b before truncating or rounding it
    (fmod, remainder, floor_divide): x1 one Newton step on vrcp14ps(b) (x86_recip.py, bit-exact);
    NaN where rcp_nan(b). ncnn's 8- and 4-lane code (an AVX2-only CPU's body, and the remainder of
    a row on AVX-512) uses the CPU's rcpps instead, whose estimate differs between CPUs."""
    from ncnnlike.layers import x86_recip
    bad = rcp_nan(ctx, b)
    magnitude = ctx.op("Where", [bad, f(ctx, 1), ctx.op("Abs", [b])])   # positive and normal
    x1 = x86_recip.divide(ctx, None, magnitude, "rcp14")
    signed = ctx.op("Mul", [x1, ctx.op("Sign", [b])])
    return nan_where(ctx, bad, ctx.op("Mul", [a, signed]))
