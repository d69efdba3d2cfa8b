"""ncnn's int8 Gemm as the x86 attention layers use it (gemm_x86.cpp, gemm_int8.h), in ONNX ops.

MultiHeadAttention_x86 and SDPA_x86 with quantize_term / int8_scale_term run every product as a
Gemm layer with 18=<term>; pip ncnn then computes each one as (all per sample, elempack 1):
  - a float operand is quantized dynamically: a whole matrix with one scale
    sB = 127/absmax (1 when absmax = 0) (compute_B_fp32_int8_scale), or row by row
    (the rows of A: compute_A_tile_fp32_int8_scales) with sA = 127/absmax and the output descale
    absmax / (127 * sB);
  - q = float2int8(x * scale): round half away from zero, clamp to +-127 (int8_sim.round_clamp);
  - int32 sums (exact here: float MatMul of integers below 2^24, else float64);
  - y = sum * descale, then + C*beta, then * alpha (unpack_output_tile_int32_to_fp32).
A constant A (int8 weights with per-row scales) gives descale = 1/(A_scale[row] * sB).

The reciprocals are those of the compiled code (x86_recip.py), all measured bit-exact against
pip ncnn on Gemm int8 for M = 1..257: the constant-A descale loop is vectorized 16-wide (rcp14),
then one 8-wide epilogue (rcpps), then scalar; a transposed A (MHA's q.k^T and output gemm) is
scaled in blocks of 64/32/16/8/4/2/1 rows per tile (64: absmax * ((1/127)/sB) and rcp14 for sA;
32, 16: rcp14; 8, 4, 2: rcpps; 1: true divisions); a plain A row by row with sA = 127/absmax and
descale = absmax * ((1/127)/sB). Tiles come from get_optimal_tile_mnk_int8 with the L2 size of
this CPU and one thread (pip ncnn with more threads tiles the output gemm differently).
"""
import functools
import math
import os

import numpy as np
import onnx

from ncnnlike.layers import int8_sim, x86_recip

EXACT_SUM_LIMIT = 2 ** 24 // (127 * 127)   # longest int8 dot product a float32 MatMul sums exactly
TRANS_KINDS = {64: ("rcp14", "hoisted"), 32: ("rcp14", "rcp14"), 16: ("rcp14", "rcp14"),
               8: ("rcpss", "rcpss"), 4: ("rcpss", "rcpss"), 2: ("rcpss", "rcpss"), 1: ("exact", "exact")}


@functools.lru_cache(maxsize=None)
def l2_cache_size():
    """Per-core L2 size in bytes as ncnn's cpu.cpp reads it on Linux (sysfs), 1 MiB if unknown."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(base)):
            path = os.path.join(base, index)
            if open(os.path.join(path, "level")).read().strip() == "2" and \
                    open(os.path.join(path, "type")).read().strip() in ("Data", "Unified"):
                size_k = int(open(os.path.join(path, "size")).read().strip().rstrip("K"))
                shared = _cpu_count(open(os.path.join(path, "shared_cpu_list")).read().strip())
                return (size_k // max(shared, 1) + 3) // 4 * 4 * 1024
    except (OSError, ValueError):
        pass
    return 1 << 20


def _cpu_count(cpu_list):
    """Number of cpus in a sysfs list such as '0-3,8'."""
    count = 0
    for part in cpu_list.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def tile_m(m, k):
    """TILE_M of get_optimal_tile_mnk_int8 (avx512 build, one thread) for m rows of inner size k."""
    l2 = l2_cache_size()
    tile = max(16, int(math.sqrt(l2 / 6.0)) // 16 * 16)
    nn_k = (k + tile - 1) // tile
    tile_k = min(tile, ((k + nn_k - 1) // nn_k + 15) // 16 * 16)
    if nn_k == 1:
        tile = max(16, int(l2 / 2 / tile_k) // 16 * 16)
    nn_m = (m + tile - 1) // tile
    return min(tile, ((m + nn_m - 1) // nn_m + 15) // 16 * 16)


def transposed_kinds(m, k):
    """(sA kind, descale kind) of each of m rows of a transposed A with inner size k."""
    return [TRANS_KINDS[size] for size in row_blocks(m, tile_m(m, k))]


def row_blocks(m, tile):
    """Block size (64..1) each row of a transposed A falls in, tile by tile."""
    sizes = []
    for start in range(0, m, tile):
        rows = min(tile, m - start)
        for size in (64, 32, 16, 8, 4, 2, 1):
            while rows >= size:
                sizes += [size] * size
                rows -= size
    return sizes


def loop_kinds(m):
    """How gcc vectorized `descale[i] = 1/(scale[i]*sB)` over m rows: 16-wide, one 8-wide, scalar."""
    n16 = m // 16 * 16
    n8 = 8 if m - n16 >= 8 else 0
    return ["rcp14"] * n16 + ["rcpss"] * n8 + ["exact"] * (m - n16 - n8)


def f32(ctx, value):
    return ctx.const(np.float32(value))


def absmax(ctx, x, axes):
    """max |x| over `axes`, kept as size-1 axes."""
    return ctx.op("ReduceMax", [ctx.op("Abs", [x])], axes=list(axes), keepdims=1)


def tensor_scale(ctx, x, axes):
    """compute_B_fp32_int8_scale: 127/absmax over `axes`, 1 when the block is all zero."""
    top = absmax(ctx, x, axes)
    zero = ctx.op("Equal", [top, f32(ctx, 0)])
    safe = ctx.op("Where", [zero, f32(ctx, 1), top])
    return ctx.op("Where", [zero, f32(ctx, 1), x86_recip.fdiv(ctx, f32(ctx, 127), safe)])


def quantize(ctx, x, scale):
    """float2int8(x * scale) as integer-valued float32."""
    return int8_sim.round_clamp(ctx, ctx.op("Mul", [x, scale]))


def int_matmul(ctx, a, b, k):
    """MatMul of integer-valued tensors with inner size k, exact (float64 past 2^24)."""
    if k <= EXACT_SUM_LIMIT:
        return ctx.op("MatMul", [a, b])
    cast = [ctx.op("Cast", [t], to=onnx.TensorProto.DOUBLE) for t in (a, b)]
    return ctx.op("Cast", [ctx.op("MatMul", cast)], to=onnx.TensorProto.FLOAT)


def select(ctx, kinds, variants, mask_shape):
    """Element-wise the variant named by kinds[i]: variants {kind: tensor}, the kinds laid out
    along the axis that mask_shape (static, broadcasting) gives them."""
    order = sorted(set(kinds))
    out = variants[order[0]]
    for kind in order[1:]:
        mask = np.array([k == kind for k in kinds]).reshape(mask_shape)
        out = ctx.op("Where", [ctx.const(mask), variants[kind], out])
    return out


def row_scales(ctx, rows, s_b, kinds=None):
    """(sA, descale) of the rows of A (..., m, k) quantized row by row, against B's scale s_b.
    kinds None: A not transposed (row by row, scalar code); else per row (sA kind, descale kind)."""
    top = absmax(ctx, rows, [-1])
    zero = ctx.op("Equal", [top, f32(ctx, 0)])
    safe = ctx.op("Where", [zero, f32(ctx, 1), top])     # ncnn: inf scale, but descale 0 anyway
    hoisted = ctx.op("Mul", [top, x86_recip.fdiv(ctx, f32(ctx, np.float32(1) / np.float32(127)), s_b)])
    if kinds is None:
        return x86_recip.fdiv(ctx, f32(ctx, 127), safe), hoisted
    v = ctx.op("Mul", [f32(ctx, 127), s_b])
    scale_kinds, descale_kinds = zip(*kinds)
    scales = {kind: x86_recip.divide(ctx, f32(ctx, 127), safe, kind) for kind in set(scale_kinds)}
    descales = {kind: hoisted if kind == "hoisted" else x86_recip.divide(ctx, top, v, kind)
                for kind in set(descale_kinds)}
    return (select(ctx, scale_kinds, scales, (-1, 1)),
            select(ctx, descale_kinds, descales, (-1, 1)))


def dynamic_gemm(ctx, a_rows, b, k, b_axes, kinds=None):
    """A (..., m, k) times B (..., k, n), both float and quantized here (A row by row, `kinds` as in
    row_scales; B as one block over `b_axes`); returns sums * descale (..., m, n), before C and alpha."""
    s_b = tensor_scale(ctx, b, b_axes)
    s_a, descale = row_scales(ctx, a_rows, s_b, kinds)
    sums = int_matmul(ctx, quantize(ctx, a_rows, s_a), quantize(ctx, b, s_b), k)
    return ctx.op("Mul", [sums, descale])


def const_a_gemm(ctx, x, weight, weight_scales, bias, name):
    """q/k/v affine: x (N, s, k) float times int8 weight rows (e, k) with per-row scales, + bias:
    (N, s, e) = sums * 1/(weight_scale * sB) + bias (gemm_AT_x86_int8, B = x per sample)."""
    e, k = weight.shape
    s_b = tensor_scale(ctx, x, [1, 2])
    q_x = quantize(ctx, x, s_b)
    sums = int_matmul(ctx, q_x, ctx.const(np.ascontiguousarray(weight.T.astype(np.float32)), name + "_wq"), k)
    b = ctx.op("Mul", [ctx.const(weight_scales.reshape(1, 1, e).astype(np.float32), name + "_ws"), s_b])
    kinds = loop_kinds(e)
    variants = {kind: x86_recip.divide(ctx, None, b, kind) for kind in set(kinds)}
    descale = select(ctx, kinds, variants, (1, 1, e))
    return ctx.op("Add", [ctx.op("Mul", [sums, descale]), ctx.const(bias.reshape(1, 1, e), name + "_b")])


def const_b_gemm(ctx, rows, m, weight, weight_scale, bias, name):
    """The output affine: rows (N, m, k) float, quantized row by row as a transposed A, times int8
    weight rows (n, k) with one scale, + bias (gemm_BT_x86_int8)."""
    n, k = weight.shape
    s_a, descale = row_scales(ctx, rows, f32(ctx, weight_scale), transposed_kinds(m, k))
    sums = int_matmul(ctx, quantize(ctx, rows, s_a),
                      ctx.const(np.ascontiguousarray(weight.T.astype(np.float32)), name + "_owq"), k)
    return ctx.op("Add", [ctx.op("Mul", [sums, descale]), ctx.const(bias.reshape(1, 1, n), name + "_ob")])
