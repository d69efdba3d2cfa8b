"""Gemm (spec 3 Gemm table, gemm.cpp): y = alpha * (A.B + beta*C), A/B/C constant or bottoms.

ncnn matrices: A is (M, K) (or (K, M) with transA), B is (K, N) (or (N, K) with transB); a 3-D
operand (c, 1, w) is a matrix of c rows. C broadcasts by constant_broadcast_type_C (constant C) or
by its shape (bottom C). Output (M, N); output_transpose gives (N, M), output_N1M inserts h = 1.
Constant operands carry no batch axis: with A and B both constant the top is a batch of one.

quantize_term (18=) 2 (model2int8 / ncnn2int8 output: constant A int8 with one scale per row,
constant B int8 with one scale) runs ncnn's x86 int8 Gemm (x86_gemm_int8.py): float operands
quantized per sample (A row by row, B as one block), int32 sums, y = sum * descale, then C and
alpha as ncnn's unpack does it. pip ncnn runs it whatever use_int8_inference says
(Gemm_x86::forward checks quantize_term only), and so do we, in every mode: bit-exact with pip
ncnn on AVX-512; "sim" sums in float ops, the others with onnxruntime's MatMulInteger (the same
values, 4-10x faster: x86_gemm_int8.int_matmul).
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks, x86_gemm_int8, x86_softmax

TYPE = "Gemm"

# ModelWriter order: 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 18 20 21 22
PARAMS = (
    Param(0, "alpha", 1.0),
    Param(1, "beta", 1.0),
    Param(2, "transA", 0),
    Param(3, "transB", 0),
    Param(4, "constantA", 0),
    Param(5, "constantB", 0),
    Param(6, "constantC", 0),
    Param(7, "constantM", 0),
    Param(8, "constantN", 0),
    Param(9, "constantK", 0),
    Param(10, "constant_broadcast_type_C", 0),
    Param(11, "output_N1M", 0),
    Param(12, "output_elempack", 0),
    Param(13, "output_elemtype", 0),
    Param(14, "output_transpose", 0),
    Param(18, "quantize_term", 0),
    Param(20, "constant_TILE_M", 0),
    Param(21, "constant_TILE_N", 0),
    Param(22, "constant_TILE_K", 0),
)


def c_count(p):
    """Elements of the constant C by constant_broadcast_type_C: scalar, M, (M,1), (M,N), (1,N)."""
    m, n = p.constantM, p.constantN
    return {0: 1, 1: m, 2: m, 3: m * n, 4: n}[p.constant_broadcast_type_C]


def weights(p):
    """A, B, C tagged (when constant), then int8 scales: A per row (M), B one (spec 3 Gemm)."""
    if p.quantize_term in (4, 5, 6) or p.quantize_term >= 400:
        raise NcnnlikeError("Gemm quantize_term %d is not supported (4-6 are rejected by ncnn, >= 400 is "
                            "LLM weight-block quantization)" % p.quantize_term)
    specs = []
    if p.constantA:
        specs.append(WeightSpec("A_data", p.constantM * p.constantK, True))
    if p.constantB:
        specs.append(WeightSpec("B_data", p.constantN * p.constantK, True))
    if p.constantC and p.constant_broadcast_type_C != -1:
        if p.constant_broadcast_type_C not in (0, 1, 2, 3, 4):
            raise NcnnlikeError("Gemm constant_broadcast_type_C %d must be -1 or 0..4" % p.constant_broadcast_type_C)
        specs.append(WeightSpec("C_data", c_count(p), True))
    if p.quantize_term:
        if p.constantA:
            specs.append(WeightSpec("A_data_int8_scales", p.constantM, False))
        if p.constantB:
            specs.append(WeightSpec("B_data_int8_scale", 1, False))
    return specs


def as_matrix(ctx, tensor, shape, what):
    """A bottom as a batched ONNX matrix (N, rows, w): 1-D is one row, 3-D (c, 1, w) is c rows."""
    if len(shape) == 1:
        return ctx.op("Unsqueeze", [tensor, ctx.ints([1])]), (1, shape[0])
    if len(shape) == 2:
        return tensor, tuple(shape)
    if len(shape) == 3 and shape[1] == 1:
        return ctx.op("Reshape", [tensor, ctx.ints([0, shape[0], shape[2]])]), (shape[0], shape[2])
    raise ValueError("%s has shape %s; expected 1-D, 2-D or (c, 1, w)" % (what, shape))


def stored(layer, name, rows, cols, transposed):
    """A constant operand as stored (cols x rows when transposed), as a (rows, cols) matrix."""
    m = np.asarray(layer.weights[name]).reshape((cols, rows) if transposed else (rows, cols))
    return np.ascontiguousarray(m.T if transposed else m)


def operand(ctx, layer, name, constant, rows, cols, transposed, bottoms):
    """(value, (rows, cols), elempack of the bottom) of A or B in non-transposed orientation: the
    weights as a numpy (rows, cols) matrix (values as stored), or the next bottom as a tensor
    (N, rows, cols)."""
    if constant:   # shape inference ("shapes" build) reads no weights
        value = stored(layer, name, rows, cols, transposed) if ctx.build != "shapes" else np.zeros(0, np.float32)
        return value, (rows, cols), 1
    if not bottoms:
        raise ValueError("%s is not constant, so it needs a bottom, but the layer has too few" % name[0])
    blob = bottoms.pop(0)
    t, shape = as_matrix(ctx, ctx.float_of(blob), ctx.shape(blob), name[0])
    pack = x86_gemm_int8.elempack(shape[0]) if len(ctx.shape(blob)) > 1 else 1
    if transposed:
        return ctx.op("Transpose", [t], perm=[0, 2, 1]), shape[::-1], pack
    return t, shape, pack


C_SHAPES = {0: (1, 1), 1: (-1, 1), 2: (-1, 1), 3: (-1, -2), 4: (1, -2)}   # -1: M, -2: N


def c_shape(kind, m, n):
    return tuple({-1: m, -2: n}.get(s, s) for s in C_SHAPES[kind])


def c_kind(cs, m, n):
    """constant_broadcast_type_C of a bottom C by its shape: ncnn's rules, later matches win (gemm.cpp forward)."""
    kind = None
    if len(cs) == 1 and cs[0] == 1:
        kind = 0
    if len(cs) == 1 and cs[0] == m:
        kind = 1
    if len(cs) == 1 and cs[0] == n:
        kind = 4
    if len(cs) == 2 and cs == (m, 1):
        kind = 2
    if len(cs) == 2 and cs == (m, n):
        kind = 3
    if len(cs) == 2 and cs == (1, n):
        kind = 4
    if kind is None:
        raise ValueError("C has shape %s, which broadcasts to neither M=%d nor N=%d" % (cs, m, n))
    return kind


def c_term(ctx, layer, p, m, n, bottoms):
    """(C reshaped to broadcast over (N, M, N'), its broadcast type), or (None, None)."""
    if p.constantC:
        if p.constant_broadcast_type_C == -1:
            return None, None
        kind = p.constant_broadcast_type_C
        return ctx.const(layer.weight("C_data").reshape(c_shape(kind, m, n)), layer.name + "_C"), kind
    if not bottoms:
        return None, None
    blob = bottoms.pop(0)
    kind = c_kind(ctx.shape(blob), m, n)
    return ctx.op("Reshape", [ctx.float_of(blob), ctx.ints((0,) + c_shape(kind, m, n))]), kind


def add_c(ctx, y, c, beta, fma=False):
    """y + beta*C: c*beta added, as ncnn's float Gemm; `fma` (int8: True, False or a bool array
    over the output, x86_gemm_int8.fma_mask): where ncnn's int8 unpack computes fma(c, beta, y)."""
    beta = np.float32(beta)
    if beta == 1:
        return ctx.op("Add", [y, c])
    plain = ctx.op("Add", [y, ctx.op("Mul", [c, ctx.const(beta)])])
    if not np.any(fma):
        return plain
    fused = x86_softmax.fma(ctx, c, ctx.const(beta), y)
    if np.all(fma):
        return fused
    return ctx.op("Where", [ctx.const(fma), fused, plain])


def finish(ctx, layer, p, y, m, n, bottoms, k=None):
    """C, alpha, output_transpose and output_N1M on the product y (N, M, N'): (top, ncnn shape);
    k is given for the int8 Gemm, whose C term differs."""
    c, kind = c_term(ctx, layer, p, m, n, bottoms)
    if c is not None:
        fma = k is not None and x86_gemm_int8.fma_mask(kind, m, n, k, p.constant_TILE_M, p.constant_TILE_N)
        y = add_c(ctx, y, c, p.beta, fma)
    if float(p.alpha) != 1.0:
        y = ctx.op("Mul", [y, ctx.const(np.float32(p.alpha))])
    rows, cols = (n, m) if p.output_transpose else (m, n)
    if p.output_transpose:
        y = ctx.op("Transpose", [y], perm=[0, 2, 1])
    if p.output_N1M:
        return ctx.op("Unsqueeze", [y, ctx.ints([2])]), (rows, 1, cols)
    return y, (rows, cols)


def operands(ctx, layer, p, bottoms):
    """A (.., m, k) and B (.., k, n) with their elempacks; k must agree."""
    a, (m, k), a_pack = operand(ctx, layer, "A_data", p.constantA, p.constantM, p.constantK, p.transA, bottoms)
    b, (k2, n), _ = operand(ctx, layer, "B_data", p.constantB, p.constantK, p.constantN, p.transB, bottoms)
    if k != k2:
        raise ValueError("A is %dx%d but B is %dx%d" % (m, k, k2, n))
    return a, b, m, k, n, a_pack


def lower_gemm(ctx, layer, p):
    """The float Gemm (a constant is (1, rows, cols): both constant give a batch of one)."""
    bottoms = list(layer.bottoms)
    a, b, m, _, n, _ = operands(ctx, layer, p, bottoms)
    a, b = (ctx.const(v[None].astype(np.float32), layer.name + "_AB") if isinstance(v, np.ndarray) else v
            for v in (a, b))
    return finish(ctx, layer, p, ctx.op("MatMul", [a, b]), m, n, bottoms)


def int8_weights(layer, p):
    """(A's per-row scales or None, B's scale or None); refuses float weights (ncnn's x86 Gemm
    packs them as int8 bytes)."""
    for name, constant in (("A_data", p.constantA), ("B_data", p.constantB)):
        if constant and np.asarray(layer.weights[name]).dtype != np.int8:
            raise ValueError("quantize_term %d needs int8 weights (model2int8 output); %s is %s"
                             % (p.quantize_term, name, np.asarray(layer.weights[name]).dtype))
    a_scales = layer.weight("A_data_int8_scales") if p.constantA else None
    b_scale = layer.weight("B_data_int8_scale").ravel()[0] if p.constantB else None
    return a_scales, b_scale


def lower_gemm_int8(ctx, layer, p):
    """ncnn's x86 int8 Gemm (x86_gemm_int8.py): the four branches of Gemm_x86::forward_int8."""
    a_scales, b_scale = int8_weights(layer, p)
    bottoms = list(layer.bottoms)
    a, b, m, k, n, a_pack = operands(ctx, layer, p, bottoms)
    if b_scale is None:
        s_b = x86_gemm_int8.tensor_scale(ctx, b, [1, 2])
        b = x86_gemm_int8.quantize(ctx, b, s_b)
    else:
        s_b = x86_gemm_int8.f32(ctx, b_scale)
    if a_scales is not None:
        descale = x86_gemm_int8.const_a_descales(ctx, a_scales, s_b, (m, 1))
    else:
        kinds = (x86_gemm_int8.transposed_kinds(m, k, a_pack, p.constant_TILE_M) if p.transA
                 else x86_gemm_int8.PLAIN_KINDS[a_pack])
        s_a, descale = x86_gemm_int8.row_scales(ctx, a, s_b, kinds)
        a = x86_gemm_int8.quantize(ctx, a, s_a)
    y = ctx.op("Mul", [x86_gemm_int8.int_matmul(ctx, a, b, k), descale])
    if a_scales is not None and b_scale is not None:
        y = ctx.op("Unsqueeze", [y, ctx.ints([0])])     # two constants: a batch of one
    return finish(ctx, layer, p, y, m, n, bottoms, k)


def lower(layer, p, ctx):
    int8 = p.quantize_term and ctx.build != "shapes"   # shapes: the float geometry
    try:
        y, shape = (lower_gemm_int8 if int8 else lower_gemm)(ctx, layer, p)
    except ValueError as exc:
        raise NcnnlikeError("layer %s (Gemm): %s" % (layer.name, exc)) from None
    ctx.top(layer, 0, y, shape)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.flag(p, "transA", "transB", "constantA", "constantB", "constantC")
    if p.constantA:
        checks.positive(p, "constantM", "constantK")
    if p.constantB:
        checks.positive(p, "constantN", "constantK")
    if p.constantC:
        checks.between(p, -1, 4, "constant_broadcast_type_C")
    if p.quantize_term in (4, 5, 6) or p.quantize_term < 0:
        raise checks.Invalid("quantize_term=%d: ncnn's load_param refuses it" % p.quantize_term)
    operands = 2 - p.constantA - p.constantB
    checks.blob_count(p, (operands, operands + 1), 1)
    checks.finite(p, "alpha", "beta")
