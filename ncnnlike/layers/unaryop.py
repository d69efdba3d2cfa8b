"""UnaryOp (spec 3, unaryop.cpp): 28 element-wise functions of 0=op_type.

ROUND is nearbyintf under FE_TONEAREST, i.e. half to even (ONNX Round). TRUNC, EXPM1 and LOG1P have
no ONNX op; EXPM1 / LOG1P use a short series near 0 so small values keep their relative precision.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param

TYPE = "UnaryOp"

(ABS, NEG, FLOOR, CEIL, SQUARE, SQRT, RSQRT, EXP, LOG, SIN, COS, TAN, ASIN, ACOS, ATAN, RECIPROCAL,
 TANH, LOG10, ROUND, TRUNC, SIGN, EXPM1, SINH, ASINH, COSH, ACOSH, ATANH, LOG1P) = range(28)

# ModelWriter order: 0
PARAMS = (
    Param(0, "op_type", 0),
)

_DIRECT = {ABS: "Abs", NEG: "Neg", FLOOR: "Floor", CEIL: "Ceil", SQRT: "Sqrt", EXP: "Exp", LOG: "Log",
           SIN: "Sin", COS: "Cos", TAN: "Tan", ASIN: "Asin", ACOS: "Acos", ATAN: "Atan",
           RECIPROCAL: "Reciprocal", TANH: "Tanh", ROUND: "Round", SIGN: "Sign", SINH: "Sinh",
           ASINH: "Asinh", COSH: "Cosh", ACOSH: "Acosh", ATANH: "Atanh"}

SERIES_LIMIT = 1e-2   # |x| below this: 4-term Taylor series, relative error < 1e-8


def _series(ctx, x, coeffs):
    """x*(c1 + x*(c2 + x*(c3 + x*c4))) by Horner's rule."""
    acc = ctx.const(np.float32(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        acc = ctx.op("Add", [ctx.op("Mul", [acc, x]), ctx.const(np.float32(c))])
    return ctx.op("Mul", [acc, x])


def _near_zero(ctx, x, series, general):
    small = ctx.op("Less", [ctx.op("Abs", [x]), ctx.const(np.float32(SERIES_LIMIT))])
    return ctx.op("Where", [small, series, general])


def emit(ctx, op_type, x):
    """ONNX nodes computing ncnn UnaryOp `op_type` of float tensor x."""
    if op_type in _DIRECT:
        return ctx.op(_DIRECT[op_type], [x])
    if op_type == SQUARE:
        return ctx.op("Mul", [x, x])
    if op_type == RSQRT:
        return ctx.op("Reciprocal", [ctx.op("Sqrt", [x])])
    if op_type == LOG10:
        return ctx.op("Mul", [ctx.op("Log", [x]), ctx.const(np.float32(1 / np.log(10)))])
    if op_type == TRUNC:
        return ctx.op("Where", [ctx.op("Less", [x, ctx.const(np.float32(0))]), ctx.op("Ceil", [x]), ctx.op("Floor", [x])])
    if op_type == EXPM1:
        general = ctx.op("Sub", [ctx.op("Exp", [x]), ctx.const(np.float32(1))])
        return _near_zero(ctx, x, _series(ctx, x, [1, 1 / 2, 1 / 6, 1 / 24]), general)
    if op_type == LOG1P:
        general = ctx.op("Log", [ctx.op("Add", [x, ctx.const(np.float32(1))])])
        return _near_zero(ctx, x, _series(ctx, x, [1, -1 / 2, 1 / 3, -1 / 4]), general)
    raise NcnnlikeError("unknown UnaryOp op_type %d (0..27)" % op_type)


def lower(layer, p, ctx):
    if not 0 <= p.op_type <= LOG1P:
        raise NcnnlikeError("layer %s (UnaryOp): unknown op_type %d (0..27)" % (layer.name, p.op_type))
    ctx.top(layer, 0, emit(ctx, p.op_type, ctx.bottom(layer)), ctx.in_shape(layer))
