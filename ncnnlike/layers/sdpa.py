"""SDPA (sdpa.cpp, x86/sdpa_x86.cpp): scaled dot product attention over ncnn 3-D blobs.

Bottoms q (heads, src, E), k (groups, cur, E), v (groups, cur, Ev), then the attn_mask (5=1) and
the past k, v (7=1, kv_cache); tops out (heads, src, Ev), then with kv_cache the whole k and v
(groups, past + cur, E / Ev). Head h reads group h / (heads / groups). Per head:
    qk = (q.k^T + mask / scale) * scale;  p = softmax(qk);  out = p.v
as the x86 Gemm (alpha = scale, beta = 1/scale); scale (6=) 0 means 1/sqrt(E) (in double). A
mask is (src, dst) or (1 or heads, src, dst). A 2-D q is one head and gives a 3-D (1, src, Ev) top.

int8_scale_term (18=) != 0 makes ncnn run both products as dynamic int8 Gemms, whatever
use_int8_inference says (there are no stored scales); that path is emulated value for value
(attention_int8.py: q rows and softmax rows quantized row by row, k and v per group;
x86_softmax.py): bit-exact with pip ncnn in the tests, so it runs here for any ctx.int8 too.

pip ncnn 1.0.20261020's float path returns corrupted k/v cache tops (even for an empty past) and
so a wrong output once the past is non-empty; its int8 path is right. Ours follows sdpa.cpp.
"""
import math

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_size
from ncnnlike.layers import attention_int8, checks, x86_softmax
from ncnnlike.layers.base import Param
from ncnnlike.layers.checks import Invalid

TYPE = "SDPA"

# ModelWriter order: 5 6 7 18
PARAMS = (
    Param(5, "attn_mask", 0),
    Param(6, "scale", 0.0),
    Param(7, "kv_cache", 0),
    Param(18, "int8_scale_term", 0),
)


def _where(layer):
    return "layer %s (SDPA)" % layer.name


def as3d(shape):
    """An ncnn 2-D blob is one channel."""
    return tuple(shape) if len(shape) == 3 else (1,) + tuple(shape)


def check_params(p):
    """Blob counts ncnn's forward needs (layers/checks.py protocol; raises checks.Invalid)."""
    checks.finite(p, "scale")
    bottoms = 3 + (1 if p.attn_mask else 0) + (2 if p.kv_cache else 0)
    checks.blob_count(p, bottoms, 3 if p.kv_cache else 1)


def check(layer, p, ctx):
    """The ncnn shapes (3-D) of q, k, v, mask (or None), past k, past v (or None); clear errors."""
    p.bottom_count, p.top_count = len(layer.bottoms), len(layer.tops)
    try:
        check_params(p)
    except Invalid as exc:
        raise NcnnlikeError("%s: %s" % (_where(layer), exc)) from None
    want = p.bottom_count
    shapes = [ctx.in_shape(layer, i) for i in range(want)]
    if any(len(s) not in (2, 3) for s in shapes[:3]):
        raise NcnnlikeError("%s: q, k, v must be 2-D or 3-D, got %s" % (_where(layer), shapes[:3]))
    q, k, v = (as3d(s) for s in shapes[:3])
    if k[2] != q[2] or v[:2] != k[:2] or q[0] % k[0]:
        raise NcnnlikeError("%s: q %s, k %s, v %s do not match (k.w == q.w, v.c/h == k.c/h, heads %% groups == 0)"
                            % (_where(layer), q, k, v))
    mask = shapes[3] if p.attn_mask else None
    past = [as3d(s) for s in shapes[-2:]] if p.kv_cache else None
    if past and (past[0][0::2] != k[0::2] or past[1][0::2] != v[0::2] or past[0][1] != past[1][1]):
        raise NcnnlikeError("%s: past k %s / v %s do not match k %s / v %s" % (_where(layer), past[0], past[1], k, v))
    dst = k[1] + (past[0][1] if past else 0)
    if mask is not None and (tuple(mask[-2:]) != (q[1], dst) or (len(mask) == 3 and mask[0] not in (1, q[0]))):
        raise NcnnlikeError("%s: attn_mask %s must be (%d, %d) or (1 or %d, %d, %d)"
                            % (_where(layer), mask, q[1], dst, q[0], q[1], dst))
    return q, k, v, mask, past


def alpha_beta(p, embed_dim):
    """(alpha, beta) of the x86 qk Gemm: scale (0: 1/sqrt(E) in double), and 1/scale in float."""
    alpha = np.float32(p.scale) if p.scale != 0 else np.float32(1.0 / math.sqrt(embed_dim))
    return alpha, np.float32(1) / alpha


def grouped(ctx, tensor, shape, groups):
    """A (N, c, h, w) tensor as (N, groups, c / groups, h, w)."""
    return ctx.op("Reshape", [tensor, ctx.ints([0, groups, shape[0] // groups, shape[1], shape[2]])])


def with_past(ctx, layer, i, cur, past_shape):
    """The whole k (or v): past rows then current rows, as (N, groups, dst, w)."""
    if past_shape[1] == 0:
        return cur
    past = ctx.op("Reshape", [ctx.bottom(layer, i), ctx.ints([0] + list(past_shape))])
    return ctx.op("Concat", [past, cur], axis=2)


def mask_term(ctx, layer, mask, q, groups):
    """The mask as (N, 1 or groups, 1 or heads/groups, src, dst)."""
    m = ctx.bottom(layer, 3)
    if len(mask) == 3 and mask[0] > 1:
        return grouped(ctx, m, mask, groups)
    return ctx.op("Reshape", [m, ctx.ints([0, 1, 1, q[1], mask[-1]])])


def bottoms(ctx, layer, q, k, v, past):
    """q as (N, groups, heads/groups, src, E); whole k and v as (N, groups, 1, dst, E / Ev)."""
    groups = k[0]
    q5 = grouped(ctx, ctx.op("Reshape", [ctx.bottom(layer, 0), ctx.ints([0] + list(q))]), q, groups)
    key = ctx.op("Reshape", [ctx.bottom(layer, 1), ctx.ints([0] + list(k))])
    value = ctx.op("Reshape", [ctx.bottom(layer, 2), ctx.ints([0] + list(v))])
    if past:
        key = with_past(ctx, layer, len(layer.bottoms) - 2, key, past[0])
        value = with_past(ctx, layer, len(layer.bottoms) - 1, value, past[1])
    unsqueeze = lambda t: ctx.op("Unsqueeze", [t, ctx.ints([2])])
    return q5, key, value, unsqueeze(key), unsqueeze(value)


def lower(layer, p, ctx):
    q, k, v, mask, past = check(layer, p, ctx)
    groups, dst = k[0], k[1] + (past[0][1] if past else 0)
    check_size("layer %s (SDPA): attention weights" % layer.name, (q[0], q[1], dst),
               "MAX_BLOB_BYTES", 4, "bytes per sample")   # q.k^T is larger than any blob (issue 15)
    alpha, beta = alpha_beta(p, q[2])
    q5, key, value, key5, value5 = bottoms(ctx, layer, q, k, v, past)
    key_t = ctx.op("Transpose", [key5], perm=[0, 1, 2, 4, 3])
    m = mask_term(ctx, layer, mask, q, groups) if mask is not None else None
    if p.int8_scale_term:
        qk = attention_int8.dynamic_gemm(ctx, q5, key_t, q[2], [2, 3, 4])
        if m is not None:
            qk = x86_softmax.fma(ctx, m, ctx.const(beta), qk)
        qk = ctx.op("Mul", [qk, ctx.const(alpha)])
        attn = x86_softmax.softmax(ctx, qk, dst)
        out = attention_int8.dynamic_gemm(ctx, attn, value5, dst, [2, 3, 4])
    else:
        qk = ctx.op("MatMul", [q5, key_t])
        if m is not None:
            qk = ctx.op("Add", [qk, ctx.op("Mul", [m, ctx.const(beta)])])
        attn = ctx.op("Softmax", [ctx.op("Mul", [qk, ctx.const(alpha)])], axis=-1)
        out = ctx.op("MatMul", [attn, value5])
    ctx.top(layer, 0, ctx.op("Reshape", [out, ctx.ints([0, q[0], q[1], v[2]])]), (q[0], q[1], v[2]))
    if p.kv_cache:
        ctx.top(layer, 1, key, (groups, dst, k[2]))
        ctx.top(layer, 2, value, (groups, dst, v[2]))
