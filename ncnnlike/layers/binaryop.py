"""BinaryOp (spec 3, binaryop.cpp): 19 element-wise ops, with a scalar or between two blobs.

Two blobs broadcast by ncnn's rules (docs/developer-guide/binaryop-broadcasting.md), which differ
from numpy's: a lower-rank operand is aligned to the *outer* axes. In numpy order (no batch):
  1-D (n,) against 2-D (h, w): (n, 1) if n == h, else (1, n)
  1-D (n,) against 3-D/4-D:    (n, 1, 1[, 1]) if n == c, else (1, 1[, 1], n)
  2-D (h, w) against 3-D/4-D:  (h, w, 1[, 1]);  3-D (c, h, w) against 4-D: (c, h, w, 1)
then every axis is either equal or 1 in one operand. The R* ops swap the operands.
Maths follow the reference binaryop.cpp (powf, remainderf); pip ncnn's x86 SIMD paths differ on
ties of REMAINDER and give garbage for POW of negative bases.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param

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
    return ctx.const(np.float32(value))


def atan2(ctx, y, x):
    """atan2f(y, x) from Atan and quadrant fixes (ONNX has no Atan2)."""
    zero, pi = _f(ctx, 0), _f(ctx, np.pi)
    base = ctx.op("Atan", [ctx.op("Div", [y, x])])
    y_neg = ctx.op("Less", [y, zero])
    shift = ctx.op("Where", [y_neg, ctx.op("Neg", [pi]), pi])
    left = ctx.op("Where", [ctx.op("Less", [x, zero]), ctx.op("Add", [base, shift]), base])
    on_axis = ctx.op("Mul", [ctx.op("Sign", [y]), _f(ctx, np.pi / 2)])
    return ctx.op("Where", [ctx.op("Equal", [x, zero]), on_axis, left])


def remainder(ctx, x, y):
    """C remainderf(x, y) = x - n*y with n = x/y rounded half to even, exactly: from fmod(x, 2|y|)."""
    ay = ctx.op("Abs", [y])
    a = ctx.op("Abs", [ctx.op("Mod", [x, ctx.op("Add", [ay, ay])], fmod=1)])   # a in [0, 2|y|)
    half = ctx.op("Mul", [ay, _f(ctx, 0.5)])
    three_half = ctx.op("Mul", [ay, _f(ctx, 1.5)])
    r = ctx.op("Where", [ctx.op("LessOrEqual", [a, half]), a,
                         ctx.op("Where", [ctx.op("Less", [a, three_half]), ctx.op("Sub", [a, ay]),
                                          ctx.op("Sub", [a, ctx.op("Add", [ay, ay])])])])
    return ctx.op("Where", [ctx.op("Less", [x, _f(ctx, 0)]), ctx.op("Neg", [r]), r])


def logaddexp(ctx, x, y):
    """max + log1p(exp(min - max)), as binary_op_logaddexp."""
    hi, lo = ctx.op("Max", [x, y]), ctx.op("Min", [x, y])
    e = ctx.op("Exp", [ctx.op("Sub", [lo, hi])])
    return ctx.op("Add", [hi, ctx.op("Log", [ctx.op("Add", [e, _f(ctx, 1)])])])


_SIMPLE = {ADD: "Add", SUB: "Sub", MUL: "Mul", DIV: "Div", MAX: "Max", MIN: "Min", POW: "Pow"}
_SWAPPED = {RSUB: SUB, RDIV: DIV, RPOW: POW, RATAN2: ATAN2, RFMOD: FMOD,
            RFLOOR_DIVIDE: FLOOR_DIVIDE, RREMAINDER: REMAINDER}


def emit(ctx, op_type, a, b):
    """ONNX nodes computing op(a, b) for ncnn op_type (R* ops swap their operands)."""
    if op_type in _SWAPPED:
        return emit(ctx, _SWAPPED[op_type], b, a)
    if op_type in _SIMPLE:
        return ctx.op(_SIMPLE[op_type], [a, b])
    if op_type == ATAN2:
        return atan2(ctx, a, b)
    if op_type == FMOD:
        return ctx.op("Mod", [a, b], fmod=1)
    if op_type == LOGADDEXP:
        return logaddexp(ctx, a, b)
    if op_type == FLOOR_DIVIDE:
        return ctx.op("Floor", [ctx.op("Div", [a, b])])
    if op_type == REMAINDER:
        return remainder(ctx, a, b)
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
        ctx.top(layer, 0, emit(ctx, p.op_type, a, _f(ctx, p.b)), ctx.in_shape(layer))
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
    ctx.top(layer, 0, emit(ctx, p.op_type, a, b), out)
