"""ncnn's int8 Gemm as the x86 attention layers use it, on top of x86_gemm_int8.py.

MultiHeadAttention_x86 and SDPA_x86 with quantize_term / int8_scale_term run every product as a
Gemm layer with 18=<term>, each with its operands at elempack 1 (measured bit-exact against pip
ncnn that way):
  - q.k^T and attn.v (both operands float): dynamic_gemm, A row by row (SDPA: plain; MHA: q.k^T
    as a transposed A, transposed_kinds) and B as one block;
  - the q/k/v affines: constant int8 weight rows (A, per-row scales) times the float input (B);
  - the output affine: the float rows as a transposed A times constant int8 weight rows (B, one
    scale).
"""
import numpy as np

from ncnnlike.layers import x86_gemm_int8 as gemm8
from ncnnlike.layers.x86_gemm_int8 import dynamic_gemm  # noqa: F401  (used by sdpa.py and multiheadattention.py)


def transposed_kinds(m, k):
    """(sA kind, descale kind) of each of the m rows of a transposed A (elempack 1) of inner size k."""
    return gemm8.transposed_kinds(m, k)


def weight_rows(weight):
    """int8 weight rows (e, k) as the constant (k, e) right operand of int_matmul."""
    return np.ascontiguousarray(np.asarray(weight).T)


def const_a_gemm(ctx, x, weight, weight_scales, bias, name):
    """q/k/v affine: x (N, s, k) float times int8 weight rows (e, k) with per-row scales, + bias:
    (N, s, e) = sums * 1/(weight_scale * sB) + bias (gemm_AT_x86_int8, B = x per sample)."""
    e, k = weight.shape
    s_b = gemm8.tensor_scale(ctx, x, [1, 2])
    sums = gemm8.int_matmul(ctx, gemm8.quantize(ctx, x, s_b), weight_rows(weight), k)
    descale = gemm8.const_a_descales(ctx, weight_scales, s_b, (1, 1, e))
    return ctx.op("Add", [ctx.op("Mul", [sums, descale]), ctx.const(bias.reshape(1, 1, e), name + "_b")])


def const_b_gemm(ctx, rows, m, weight, weight_scale, bias, name):
    """The output affine: rows (N, m, k) float, quantized row by row as a transposed A, times int8
    weight rows (n, k) with one scale, + bias (gemm_BT_x86_int8)."""
    n, k = weight.shape
    s_a, descale = gemm8.row_scales(ctx, rows, gemm8.f32(ctx, weight_scale), transposed_kinds(m, k))
    sums = gemm8.int_matmul(ctx, gemm8.quantize(ctx, rows, s_a), weight_rows(weight), k)
    return ctx.op("Add", [ctx.op("Mul", [sums, descale]), ctx.const(bias.reshape(1, 1, n), name + "_ob")])
