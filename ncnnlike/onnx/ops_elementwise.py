"""Add/Sub/Mul/Div/Max/Min/Sum -> BinaryOp (spec 3): a constant scalar operand becomes
with_scalar; a constant tensor operand becomes a MemoryData blob; both operands are given the
same ncnn rank so broadcasting is numpy's (size-1 axes), whatever side broadcasts.

Pow never goes to BinaryOp pow on a base that may be <= 0: ncnn's x86 pow returns 2.4e38 there
(pip ncnn, measured: pow(x, 2) for x in {-2, -0, 0}), where ONNX gives x^p. A constant exponent
becomes UnaryOp square / sqrt / rsqrt / reciprocal and products of them (x^3 = x * square(x),
x^2.5 = square(x) * sqrt(x)); another exponent clamps the base to FLT_MIN first (equal to ONNX for
x >= 0; ONNX's NaN for x < 0 becomes ~0); a computed exponent needs a constant positive base.
Where with a constant condition becomes x * m + c (m = cond as 0/1, c = the other operand where
the condition is false): exact for finite x."""
import numpy as np

from ncnnlike.onnx.importer import converter

ADD, SUB, MUL, DIV, MAX, MIN, POW, RSUB, RDIV, RPOW = range(10)
_OPS = {"Add": ADD, "Sub": SUB, "Mul": MUL, "Div": DIV, "Max": MAX, "Min": MIN, "Sum": ADD}
SQUARE, SQRT, RSQRT, RECIPROCAL = 4, 5, 6, 15
FLT_MIN = float(np.finfo(np.float32).tiny)
_REVERSED = {SUB: RSUB, DIV: RDIV, POW: RPOW}


def _is_scalar(value):
    return value is not None and value.size == 1


def binary(ctx, a, b, out, op):
    """Emit one BinaryOp computing `a op b` into ONNX tensor `out` (either operand may be constant)."""
    ca, cb = ctx.const(a), ctx.const(b)
    shape = ctx.ncnn_shape(out)
    if _is_scalar(cb) or _is_scalar(ca):
        scalar, tensor = (cb, a) if _is_scalar(cb) else (ca, b)
        if _is_scalar(ca):
            op = _REVERSED.get(op, op)
        if tuple(ctx.ncnn_shape(tensor)) == tuple(shape):
            blob, actual = ctx.actual(tensor)
            ctx.add("BinaryOp", [blob], [out], {0: op, 1: 1, 2: float(scalar.reshape(()))}, shapes=[actual])
            return
    bottoms = [ctx.blob(n, ctx.operand_shape(n, out)) for n in (a, b)]
    ctx.add("BinaryOp", bottoms, [out], {0: op}, shapes=[shape])


@converter("Add", "Sub", "Mul", "Div", "Max", "Min", "Sum")
def binary_op(ctx, node):
    """Two operands (Max/Min/Sum may have more: a chain of BinaryOps)."""
    op = _OPS[node.op_type]
    inputs = list(node.input)
    if len(inputs) == 1:
        ctx.alias(node.output[0], inputs[0])
        return
    acc = inputs[0]
    for i, other in enumerate(inputs[1:]):
        last = i == len(inputs) - 2
        out = node.output[0] if last else \
            ctx.fresh(node.output[0] + "_acc", np.broadcast_shapes(ctx.shape(acc), ctx.shape(other)))
        binary(ctx, acc, other, out, op)
        acc = out


@converter("Mean")
def mean(ctx, node):
    """Mean of n tensors: a Sum chain, then a scalar multiply by 1/n."""
    total = ctx.fresh(node.output[0] + "_sum", ctx.shape(node.output[0]))
    summed = type(node)()
    summed.CopyFrom(node)
    summed.op_type = "Sum"
    summed.output[0] = total
    binary_op(ctx, summed)
    blob, actual = ctx.actual(total)
    ctx.add("BinaryOp", [blob], [node.output[0]], {0: MUL, 1: 1, 2: 1.0 / len(node.input)}, shapes=[actual])


def _chain(ctx, x, out, steps):
    """Apply steps (type, params, second operand or None) one after another from tensor x; each
    layer keeps x's actual shape. The last step writes `out`."""
    blob, actual = ctx.actual(x)
    for k, (type_name, params, other) in enumerate(steps):
        top = out if k == len(steps) - 1 else ctx.fresh(out + "_pow")
        bottoms = [blob] if other is None else [blob, ctx.actual(other)[0]]
        ctx.add(type_name, bottoms, [top], params, shapes=[actual])
        blob = ctx.actual(top)[0]


def _unary(ctx, x, out, op):
    _chain(ctx, x, out, [("UnaryOp", {0: op}, None)])


def _mul(ctx, a, b, out):
    _chain(ctx, a, out, [("BinaryOp", {0: MUL}, b)])


def _integer_power(ctx, x, out, n):
    """x^n for an integer n >= 1 by squaring: x^(2k) = square(x^k), x^(2k+1) = x * x^(2k)."""
    if n == 1:
        ctx.alias(out, x)
    elif n % 2 == 0:
        half = ctx.fresh(out + "_half")
        _integer_power(ctx, x, half, n // 2)
        _unary(ctx, half, out, SQUARE)
    else:
        even = ctx.fresh(out + "_even")
        _integer_power(ctx, x, even, n - 1)
        _mul(ctx, even, x, out)


def power(ctx, x, out, p):
    """out = x^p for a constant p, with ncnn constructs equal to ONNX's for every x."""
    if p == 0:
        _chain(ctx, x, out, [("BinaryOp", {0: MUL, 1: 1, 2: 0.0}, None), ("BinaryOp", {0: ADD, 1: 1, 2: 1.0}, None)])
    elif abs(p) <= 64 and float(2 * p).is_integer():
        if p < 0:
            positive = ctx.fresh(out + "_positive")
            power(ctx, x, positive, -p)
            _unary(ctx, positive, out, RECIPROCAL)
        elif p == 0.5:
            _unary(ctx, x, out, SQRT)
        elif p.is_integer():
            _integer_power(ctx, x, out, int(p))
        else:
            whole, root = ctx.fresh(out + "_whole"), ctx.fresh(out + "_sqrt")
            _integer_power(ctx, x, whole, int(p))
            _unary(ctx, x, root, SQRT)
            _mul(ctx, whole, root, out)
    else:
        _chain(ctx, x, out, [("Clip", {0: FLT_MIN}, None), ("BinaryOp", {0: POW, 1: 1, 2: float(p)}, None)])


@converter("Pow")
def pow_(ctx, node):
    """Pow by a constant exponent (one value) -> power(); 2^x-style Pow of a constant positive base
    -> BinaryOp rpow; anything else is refused (ncnn's pow differs from ONNX for bases <= 0)."""
    x, e, y = node.input[0], node.input[1], node.output[0]
    ce, cx = ctx.const(e), ctx.const(x)
    if ce is not None and ce.size >= 1 and np.all(ce == ce.ravel()[0]) and cx is None:
        if tuple(ctx.ncnn_shape(y)) != tuple(ctx.ncnn_shape(x)):
            ctx.fail("Pow whose exponent broadcasts the base to another shape is not supported")
        p = float(ce.ravel()[0])
        if p == -0.5:
            _unary(ctx, x, y, RSQRT)
        else:
            power(ctx, x, y, p)
        return
    if cx is not None and np.all(cx > 0):
        binary(ctx, x, e, y, POW)
        return
    ctx.fail("Pow of a computed exponent on a base that may be <= 0: ncnn's pow differs from ONNX there")


@converter("Where")
def where(ctx, node):
    """Where(cond, a, b) with a constant condition and one computed operand: x * m + c."""
    cond, a, b = node.input
    mask = ctx.const(cond)
    if mask is None:
        ctx.fail("Where with a computed condition is not supported (ncnn has no select)")
    y = node.output[0]
    shape = ctx.shape(y)
    mask = np.broadcast_to(mask.astype(bool), shape)
    ca, cb = ctx.const(a), ctx.const(b)
    if (ca is None) == (cb is None):
        ctx.fail("Where needs exactly one computed operand (a constant and a tensor)")
    x, const, keep = (a, cb, mask) if cb is not None else (b, ca, ~mask)
    if np.all(keep):
        return ctx.alias(y, x)
    add = np.where(keep, 0.0, np.broadcast_to(const, shape)).astype(np.float32)
    scaled = ctx.fresh(y + "_masked", shape)
    binary(ctx, x, ctx.new_const(y + "_mask", keep.astype(np.float32)), scaled, MUL)
    binary(ctx, scaled, ctx.new_const(y + "_fill", add), y, ADD)
