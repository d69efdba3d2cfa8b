"""Gemm / MatMul -> InnerProduct (constant weight; spec 3) or the MatMul layer (two computed operands).

InnerProduct reads a 1-D (K,) blob, or a 2-D (rows, K) blob as a batch of rows; any other blob is
flattened. Its weight is [num_output][num_input] (spec 2.4), i.e. ONNX B transposed."""
import numpy as np

from ncnnlike.onnx.importer import converter


def inner_product(ctx, a, y, weight, bias):
    """InnerProduct y = a . weight^T + bias from ONNX tensor `a` (ncnn (K,) or (rows, K))."""
    num_output, num_input = weight.shape
    shape = tuple(ctx.ncnn_shape(a))
    if shape[-1] != num_input or len(shape) > 2:
        ctx.fail("InnerProduct input of shape %s does not end in %d" % (list(shape), num_input))
    blob, actual = ctx.actual(a)
    if len(shape) == 2 or len(actual) == 2:
        blob = ctx.blob(a)     # a 2-D blob must be exactly (rows, K): ncnn batches its rows
    out = (shape[0], num_output) if len(shape) == 2 else (num_output,)
    params = {0: num_output, 1: int(bias is not None), 2: int(weight.size)}
    weights = [weight] if bias is None else [weight, bias]
    ctx.add("InnerProduct", [blob], [y], params, weights, shapes=[out])


@converter("Gemm")
def gemm(ctx, node):
    """alpha * A' B' + beta * C with constant B (and C): InnerProduct with alpha, beta folded in."""
    a = ctx.attrs(node)
    if a.get("transA", 0):
        ctx.fail("Gemm with transA is not supported (A is the batch of rows)")
    b = ctx.const_input(node, 1).astype(np.float32)
    weight = (b if a.get("transB", 0) else b.T) * np.float32(a.get("alpha", 1.0))
    bias = None
    if ctx.has_input(node, 2):
        c = ctx.const_input(node, 2).astype(np.float32) * np.float32(a.get("beta", 1.0))
        if c.ndim == 2 and c.shape[0] != 1:
            ctx.fail("Gemm C of shape %s varies along the batch" % (list(c.shape),))
        bias = np.broadcast_to(c.reshape(-1) if c.ndim == 2 else c, (weight.shape[0],))
    inner_product(ctx, node.input[0], node.output[0], np.ascontiguousarray(weight), bias)


@converter("MatMul")
def matmul(ctx, node):
    """Constant 2-D B on a (K,) or (rows, K) blob -> InnerProduct; otherwise the MatMul layer."""
    a, b, y = node.input[0], node.input[1], node.output[0]
    cb = ctx.const(b)
    if ctx.const(a) is None and cb is not None and cb.ndim == 2 and len(ctx.ncnn_shape(a)) <= 2:
        inner_product(ctx, a, y, np.ascontiguousarray(cb.astype(np.float32).T), None)
        return
    if ctx.rank(a) < 2 or ctx.rank(b) < 2:
        ctx.fail("MatMul with a 1-D operand is not supported")
    bottoms = [ctx.blob(n, ctx.operand_shape(n, y)) for n in (a, b)]
    ctx.add("MatMul", bottoms, [y], {})
