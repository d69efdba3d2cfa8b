"""Gemm / MatMul -> InnerProduct (constant weight; spec 3) or the MatMul layer (two computed operands);
Einsum -> Einsum in ncnn's dialect (letters renamed, the batch letter dropped).

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
    x = node.input[0]
    if a.get("transA", 0):
        x = _transposed_rows(ctx, x, node.output[0])
    b = ctx.const_input(node, 1).astype(np.float32)
    weight = (b if a.get("transB", 0) else b.T) * np.float32(a.get("alpha", 1.0))
    bias = None
    if ctx.has_input(node, 2):
        c = ctx.const_input(node, 2).astype(np.float32) * np.float32(a.get("beta", 1.0))
        if c.ndim == 2 and c.shape[0] != 1:
            ctx.fail("Gemm C of shape %s varies along the batch" % (list(c.shape),))
        bias = np.broadcast_to(c.reshape(-1) if c.ndim == 2 else c, (weight.shape[0],))
    inner_product(ctx, x, node.output[0], np.ascontiguousarray(weight), bias)


def _transposed_rows(ctx, x, y):
    """A' for Gemm transA: A must be a 2-D blob (K, M) (no batch axis); Permute gives (M, K)."""
    shape = tuple(ctx.ncnn_shape(x))
    if len(shape) != 2 or ctx.batch_axis(x) is not None:
        ctx.fail("Gemm transA needs A as a (K, M) matrix without a batch axis, got ncnn shape %s" % list(shape))
    t = ctx.fresh(x + "_transposed", (shape[1], shape[0]))
    ctx.set_batch_axis(t, None)
    ctx.set_batch_axis(y, None)
    ctx.add("Permute", [ctx.blob(x)], [t], {0: 1})
    return t


@converter("ncnnlike.Linear")
def linear(ctx, node):
    """MatMul by a constant W plus a bias (fuse.py): InnerProduct with bias on a (K,) or (rows, K)
    blob; any other blob runs the MatMul layer and a BinaryOp add."""
    x, w, b, y = node.input[0], node.input[1], node.input[2], node.output[0]
    weight = ctx.const(w).astype(np.float32)
    if len(ctx.ncnn_shape(x)) <= 2:
        inner_product(ctx, x, y, np.ascontiguousarray(weight.T), ctx.const(b).astype(np.float32))
        return
    from ncnnlike.onnx.ops_elementwise import ADD, binary
    product = ctx.fresh(y + "_matmul", ctx.shape(y))
    ctx.set_batch_axis(product, ctx.batch_axis(x))
    bottoms = [ctx.blob(n, ctx.operand_shape(n, product)) for n in (x, w)]
    ctx.add("MatMul", bottoms, [product], {})
    binary(ctx, product, b, y, ADD)


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


def _einsum_terms(ctx, node):
    """(lhs terms, rhs) of an explicit or implicit ONNX equation; ellipsis refused."""
    equation = str(ctx.attrs(node)["equation"]).replace(" ", "")
    if "." in equation:
        ctx.fail("Einsum with an ellipsis is not supported")
    lhs, _, rhs = equation.partition("->")
    terms = lhs.split(",")
    if "->" not in equation:
        letters = "".join(terms)
        rhs = "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    if len(terms) != len(node.input) or any(len(t) != ctx.rank(n) for t, n in zip(terms, node.input)):
        ctx.fail("equation '%s' does not fit the %d inputs' ranks" % (equation, len(node.input)))
    return terms, rhs


@converter("Einsum")
def einsum(ctx, node):
    """Einsum: the batch letter (the first computed input's batch axis, size 1) is dropped from
    every term; output letters become i, j, k, l in rhs order, summed letters m..x."""
    terms, rhs = _einsum_terms(ctx, node)
    first = next((k for k, n in enumerate(node.input) if ctx.const(n) is None), 0)
    b = ctx.batch_axis(node.input[first])
    batch = terms[first][b] if b is not None else ""
    names = {ch: "ijkl"[k] for k, ch in enumerate(c for c in rhs if c != batch) if k < 4}
    spare = iter("mnopqrstuvwx")
    for ch in "".join(terms):
        if ch not in names and ch != batch:
            names[ch] = next(spare, "?")
    bottoms, tokens = [], []
    for name, term in zip(node.input, terms):
        keep = [k for k, ch in enumerate(term) if ch != batch]
        if any(ctx.shape(name)[k] != 1 for k, ch in enumerate(term) if ch == batch):
            ctx.fail("the batch letter '%s' has a size other than 1 in input '%s'" % (batch, name))
        tokens.append("".join(names[term[k]] for k in keep))
        bottoms.append(ctx.blob(name, tuple(ctx.shape(name)[k] for k in keep)))
    out = "".join(names[c] for c in rhs if c != batch)
    equation = ",".join(tokens) + "->" + out
    if "?" in equation or not 1 <= len(out) <= 4 or any(not 1 <= len(t) <= 4 for t in tokens):
        ctx.fail("equation has no form in ncnn's Einsum dialect (1 to 4 letters per term, 12 letters)")
    ctx.set_batch_axis(node.output[0], rhs.index(batch) if batch in rhs else None)
    ctx.add("Einsum", bottoms, [node.output[0]], {0: [ord(c) for c in equation]})


@converter("ncnnlike.MultiHeadAttention")
def multi_head_attention(ctx, node):
    """The block fuse_attention.py matched: q (and k, v) are (T, features) blobs; weights are in
    ncnn's (out, in) layout already."""
    a = ctx.attrs(node)
    n_x = len(node.input) - 8
    xs = list(node.input[:n_x])
    wq, bq, wk, bk, wv, bv, wo, bo = (ctx.const_input(node, n_x + i).astype(np.float32) for i in range(8))
    embed = wq.shape[0]
    for x in xs:
        if len(ctx.ncnn_shape(x)) != 2:
            ctx.fail("attention input '%s' of ncnn shape %s is not a (T, features) blob" % (x, list(ctx.ncnn_shape(x))))
    params = {0: embed, 1: int(a["num_heads"]), 2: int(wq.size), 3: int(wk.shape[1]), 4: int(wv.shape[1]),
              6: float(a["scale"])}
    ctx.add("MultiHeadAttention", [ctx.blob(x) for x in xs], [node.output[0]], params,
            [wq, bq, wk, bk, wv, bv, wo, bo])
