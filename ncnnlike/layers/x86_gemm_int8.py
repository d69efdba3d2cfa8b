"""pip ncnn's x86 int8 Gemm (gemm_x86.cpp forward_int8, gemm_int8.h) in ONNX ops, value for value.

A Gemm layer with quantize_term (18=) 2, and the Gemms MultiHeadAttention_x86 and SDPA_x86 run
inside (attention_int8.py), compute per sample:
  - a constant operand is int8 as stored: A with one scale per row, B with one scale;
  - a float B is quantized as one block: sB = 127/absmax, 1 when absmax = 0 (compute_B_fp32_int8_scale);
  - a float A row by row: sA = 127/absmax, descale = absmax / (127 sB)
    (compute_A_tile_fp32_int8_scales, transpose_compute_A_tile_fp32_int8_scales when transA);
  - a constant A: descale = 1 / (A_scale[row] * sB), one loop over the rows (gemm_AT_x86_int8);
  - q = float2int8(x * scale): round half away from zero, clamp to +-127 (int8_sim.round_clamp);
  - int32 sums (int_matmul: exact in every mode), y = float(sum) * descale;
  - then C and alpha (gemm.py; unpack_output_tile_int32_to_fp32): y + c*beta, except where the
    code, or gcc contracting it, takes fma(c, beta, y) (fma_mask), then y * alpha.

The divisions are those of the compiled code (x86_recip.py): -ffast-math turns a vectorized a / b
into a * newton(rcp(b)) (rcp14 in 16-wide code, rcpps in 8-, 4- and 2-wide code), keeps scalar
divisions, and hoists the loop-invariant divisor of absmax / (127 sB): absmax * ((1/127) / sB)
("hoisted"). Which form a row gets depends on the code path; measured bit-exact against pip ncnn
1.0.20261020 (its AVX-512 build, what it runs on an AVX-512 CPU; tests/layers/test_gemm.py):
  - a plain A (transA 0) by its elempack: PLAIN_KINDS;
  - a transposed A in tiles of TILE_M rows (get_optimal_tile_mnk_int8 with this CPU's L2 size),
    each scanned in blocks of 64, 32, 16, 8, 4, 2, 1 floats, a block holding F / elempack rows:
    BLOCK_KINDS;
  - the constant-A descale loop vectorized 16-wide (rcp14), then one 8-wide step (rcpps), then scalar.
The elempack of a bottom is the packing pip ncnn's Net gives a blob of h rows (or c channels) on
AVX-512 with use_packing_layout (its default): 16, 8, 4 or 1 as h divides (net.cpp convert_layout).
The tiles are those of one thread: pip ncnn with more threads tiles differently, which moves a
transposed A's blocks and the fused C of fma_mask (plain A, constant A and beta 1 do not depend on it).
"""
import functools
import math
import os

import numpy as np

from ncnnlike.layers import int8_sim, onnx_bytes, x86_recip
from ncnnlike.layers.lowering import DOUBLE, FLOAT, INT8, OPSET, UINT8, Node

EXACT_SUM_LIMIT = 2 ** 24 // (127 * 127)   # longest int8 dot product a float32 MatMul sums exactly
HOISTED = "hoisted"
EXACT, RCP14, RCPSS = "exact", "rcp14", "rcpss"
SIM_MODES = ("sim", "exact")   # use_int8_inference values whose graphs sum in float (int_matmul)

# (sA kind, descale kind) of a plain A by elempack: scalar code, then 4-, 8-, 16-wide divisions
PLAIN_KINDS = {1: (EXACT, HOISTED), 4: (RCPSS, HOISTED), 8: (RCPSS, HOISTED), 16: (RCP14, HOISTED)}

# (sA kind, descale kind) of a transposed A: by elempack, then by the block size in floats
BLOCK_KINDS = {
    1: {64: (RCP14, HOISTED), 32: (RCP14, RCP14), 16: (RCP14, RCP14), 8: (RCPSS, RCPSS), 4: (RCPSS, RCPSS),
        2: (RCPSS, RCPSS), 1: (EXACT, EXACT)},
    4: {64: (RCP14, HOISTED), 32: (RCPSS, RCPSS), 16: (RCPSS, RCPSS), 8: (RCPSS, RCPSS), 4: (EXACT, EXACT)},
    8: {64: (RCPSS, HOISTED), 32: (RCPSS, RCPSS), 16: (RCPSS, RCPSS), 8: (EXACT, EXACT)},
    16: {64: (RCPSS, HOISTED), 32: (RCPSS, RCPSS), 16: (EXACT, EXACT)},
}


def elempack(rows):
    """The packing pip ncnn's AVX-512 build gives a blob of `rows` rows (or channels)."""
    for pack in (16, 8, 4):
        if rows % pack == 0:
            return pack
    return 1


@functools.lru_cache(maxsize=None)
def l2_cache_size():
    """Per-core L2 size in bytes as ncnn's cpu.cpp reads it on Linux (sysfs), 1 MiB if unknown."""
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(base)):
            path = os.path.join(base, index)
            if _read(path, "level") == "2" and _read(path, "type") in ("Data", "Unified"):
                size_k = int(_read(path, "size").rstrip("K"))
                shared = _cpu_count(_read(path, "shared_cpu_list"))
                return (size_k // max(shared, 1) + 3) // 4 * 4 * 1024
    except (OSError, ValueError):
        pass
    return 1 << 20


def _read(folder, name):
    with open(os.path.join(folder, name)) as f:
        return f.read().strip()


def _cpu_count(cpu_list):
    """Number of cpus in a sysfs list such as '0-3,8'."""
    count = 0
    for part in cpu_list.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


def _round16(value):
    return (value + 15) // 16 * 16


def tiles(m, n, k, constant_tile_m=0, constant_tile_n=0):
    """(TILE_M, TILE_N) of get_optimal_tile_mnk_int8 (AVX-512 build, one thread)."""
    l2 = l2_cache_size()
    tile_m = tile_n = max(16, int(math.sqrt(l2 / 6.0)) // 16 * 16)
    nn_k = (k + tile_m - 1) // tile_m
    tile_k = min(tile_m, _round16((k + nn_k - 1) // nn_k))
    if nn_k == 1:
        tile_m = tile_n = max(16, int(l2 / 2 / tile_k) // 16 * 16)
    tile_m = min(tile_m, _round16(-(-m // -(-m // tile_m))))
    tile_n = min(tile_n, _round16(-(-n // -(-n // tile_n))))
    return (_round16(constant_tile_m) if constant_tile_m > 0 else tile_m,
            _round16(constant_tile_n) if constant_tile_n > 0 else tile_n)


def block_sizes(count, tile, sizes):
    """The size of the block each of `count` items falls in when a kernel walks them tile by tile,
    each tile in as many blocks of sizes[0] as fit, then of sizes[1], and so on."""
    out = []
    for start in range(0, count, tile):
        left = min(tile, count - start)
        for size in sizes:
            while left >= size:
                out += [size] * size
                left -= size
    return out


def transposed_kinds(m, k, pack=1, constant_tile_m=0):
    """(sA kind, descale kind) of each of the m rows of a transposed A of inner size k and elempack
    `pack` (transpose_compute_A_tile_fp32_int8_scales, tile by tile, in blocks of 64..1 floats)."""
    tile = tiles(m, 1, k, constant_tile_m)[0]
    floats = block_sizes(m * pack, tile * pack, [s for s in (64, 32, 16, 8, 4, 2, 1) if s >= pack])
    return [BLOCK_KINDS[pack][size] for size in floats[::pack]]


def fma_mask(kind, m, n, k, constant_tile_m=0, constant_tile_n=0):
    """Where unpack_output_tile_int32_to_fp32 adds C (broadcast type `kind`) as fma(c, beta, y)
    rather than y + c*beta: everywhere for an M x N C (its explicit _mm512_fmadd_ps); for a C per
    column, in the blocks where gcc contracted the multiply and add of a loaded C vector (measured):
    the 1-row blocks ending a TILE_M tile, and the 4- and 2-column steps of its 2-row blocks;
    nowhere for the other types. True, False, or an (m, n) bool array."""
    if kind != 4:
        return kind == 3
    tile_m, tile_n = tiles(m, n, k, constant_tile_m, constant_tile_n)
    rows = np.array(block_sizes(m, tile_m, (16, 8, 4, 2, 1))).reshape(-1, 1)
    cols = np.array(block_sizes(n, tile_n, (16, 8, 4, 2, 1))).reshape(1, -1)
    return (rows == 1) | ((rows == 2) & ((cols == 4) | (cols == 2)))


def loop_kinds(m):
    """How gcc vectorized `descale[i] = 1/(scale[i]*sB)` over m rows: 16-wide, one 8-wide, scalar."""
    n16 = m // 16 * 16
    n8 = 8 if m - n16 >= 8 else 0
    return [RCP14] * n16 + [RCPSS] * n8 + [EXACT] * (m - n16 - n8)


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
    """The int32 sums of integer-valued operands with inner size k, as float (ncnn's cvtdq2ps: round
    to nearest even). a, b: float tensors, or numpy integer matrices (constant int8 weights).
    "sim" (and "exact", whose graphs pip ncnn runs): float MatMul, exact while sums stay below 2^24,
    else in float64; the other modes: onnxruntime's MatMulInteger, exact and 4-10x faster."""
    if ctx.int8 in SIM_MODES:
        a, b = (ctx.const(t.astype(np.float32)) if isinstance(t, np.ndarray) else t for t in (a, b))
        if k <= EXACT_SUM_LIMIT:
            return ctx.op("MatMul", [a, b])
        cast = [ctx.op("Cast", [t], to=DOUBLE) for t in (a, b)]
        return ctx.op("Cast", [ctx.op("MatMul", cast)], to=FLOAT)
    zero_point = ctx.const(np.uint8(128))
    right, right_zero = (as_int8(ctx, b), []) if u8s8_exact() else (as_uint8(ctx, b), [zero_point])
    sums = ctx.op("MatMulInteger", [as_uint8(ctx, a), right, zero_point] + right_zero)
    # float(sum) as a DequantizeLinear with scale 1, not a Cast: onnxruntime fuses MatMulInteger,
    # Cast and the Mul by the descale into MatMulIntegerToFloat, which rounds differently
    return ctx.op("DequantizeLinear", [sums, f32(ctx, 1)])


def as_uint8(ctx, q):
    """Integer values in [-127, 127] as uint8 q + 128 (MatMulInteger with zero point 128)."""
    if isinstance(q, np.ndarray):
        return ctx.const((q.astype(np.int16) + 128).astype(np.uint8))
    return ctx.op("Cast", [ctx.op("Add", [q, f32(ctx, 128)])], to=UINT8)


def as_int8(ctx, q):
    """Integer values in [-127, 127] as int8."""
    if isinstance(q, np.ndarray):
        return ctx.const(q.astype(np.int8))
    return ctx.op("Cast", [q], to=INT8)


@functools.lru_cache(maxsize=None)
def u8s8_exact():
    """Does onnxruntime's u8 x s8 MatMulInteger sum exactly on this CPU? One probe with the worst
    case, 255 x 127, whose int16 pair sums saturate without VNNI (then u8 x u8 is used: exact
    everywhere, about half as fast)."""
    import onnxruntime as ort
    k = 64
    inits = [("w", np.full((k, 1), 127, np.int8)), ("zp", np.uint8(0))]
    node = Node("MatMulInteger", ["x", "w", "zp"], ["y"], {}, "probe")
    model, _ = onnx_bytes.model([node], [("x", UINT8, [1, k])], ["y"], inits, [("", OPSET)], 8)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return bool(sess.run(None, {"x": np.full((1, k), 255, np.uint8)})[0][0, 0] == 255 * 127 * k)


def select(ctx, kinds, variants, mask_shape):
    """Element-wise the variant named by kinds[i]: variants {kind: tensor}, the kinds laid out
    along the axis that mask_shape (static, broadcasting) gives them."""
    order = sorted(set(kinds))
    out = variants[order[0]]
    for kind in order[1:]:
        mask = np.array([k == kind for k in kinds]).reshape(mask_shape)
        out = ctx.op("Where", [ctx.const(mask), variants[kind], out])
    return out


def row_scales(ctx, rows, s_b, kinds):
    """(sA, descale), both (..., m, 1), of the rows of A (..., m, k) quantized row by row against
    B's scale s_b; kinds: one (sA kind, descale kind) per row, or one pair for every row."""
    top = absmax(ctx, rows, [-1])
    zero = ctx.op("Equal", [top, f32(ctx, 0)])
    safe = ctx.op("Where", [zero, f32(ctx, 1), top])     # ncnn: an inf scale, but descale 0 anyway
    scale_kinds, descale_kinds = zip(*kinds) if isinstance(kinds, list) else ([kinds[0]], [kinds[1]])
    v = ctx.op("Mul", [f32(ctx, 127), s_b])
    scales, descales = {}, {}
    for kind in set(scale_kinds):
        scales[kind] = x86_recip.divide(ctx, f32(ctx, 127), safe, kind)
    for kind in set(descale_kinds):
        if kind == HOISTED:
            reciprocal = x86_recip.fdiv(ctx, f32(ctx, np.float32(1) / np.float32(127)), s_b)
            descales[kind] = ctx.op("Mul", [top, reciprocal])
        else:
            descales[kind] = x86_recip.divide(ctx, top, v, kind)
    return (select(ctx, list(scale_kinds), scales, (-1, 1)),
            select(ctx, list(descale_kinds), descales, (-1, 1)))


def const_a_descales(ctx, a_scales, s_b, shape):
    """gemm_AT_x86_int8's descale[i] = 1/(A_scale[i] * sB) for the m constant-A rows, laid out in
    `shape` (static, broadcasting, m along one axis)."""
    kinds = loop_kinds(a_scales.size)
    b = ctx.op("Mul", [ctx.const(a_scales.reshape(shape).astype(np.float32)), s_b])
    return select(ctx, kinds, {kind: x86_recip.divide(ctx, None, b, kind) for kind in set(kinds)}, shape)


def dynamic_gemm(ctx, a_rows, b, k, b_axes, kinds=PLAIN_KINDS[1]):
    """A (..., m, k) times B (..., k, n), both float and quantized here (A row by row, `kinds` as in
    row_scales; B as one block over `b_axes`); returns sums * descale (..., m, n), before C and alpha."""
    s_b = tensor_scale(ctx, b, b_axes)
    s_a, descale = row_scales(ctx, a_rows, s_b, kinds)
    sums = int_matmul(ctx, quantize(ctx, a_rows, s_a), quantize(ctx, b, s_b), k)
    return ctx.op("Mul", [sums, descale])
