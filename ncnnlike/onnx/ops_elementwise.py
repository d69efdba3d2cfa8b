"""Add/Sub/Mul/Div/Max/Min/Pow/Sum -> BinaryOp (spec 3): a constant scalar operand becomes
with_scalar; a constant tensor operand becomes a MemoryData blob; both operands are given the
same ncnn rank so broadcasting is numpy's (size-1 axes), whatever side broadcasts."""
import numpy as np

from ncnnlike.onnx.importer import converter

ADD, SUB, MUL, DIV, MAX, MIN, POW, RSUB, RDIV, RPOW = range(10)
_OPS = {"Add": ADD, "Sub": SUB, "Mul": MUL, "Div": DIV, "Max": MAX, "Min": MIN, "Pow": POW, "Sum": ADD}
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


@converter("Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "Sum")
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
