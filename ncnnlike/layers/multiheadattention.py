"""MultiHeadAttention (multiheadattention.cpp, x86/multiheadattention_x86.cpp) over 2-D blobs
(h = sequence, w = features), as torch.nn.MultiheadAttention:
    q' = (q.Wq^T + bq) * scale,  k' = k.Wk^T + bk,  v' = v.Wv^T + bv      (embed_dim features)
    per head (embed_dim / num_heads features): softmax(q'.k'^T + mask).v'
    out = heads.Wout^T + bout                                          (qdim features)
qdim = weight_data_size / embed_dim; k and v have kdim / vdim features. Bottoms: q, or q + kv,
or q + k + v, then the attn_mask (5=1: (src, dst) or (heads, src, dst)), then with kv_cache (7=1)
the cached k', v' as (heads, past, head_dim) blobs; with kv_cache the tops are out, k', v' (heads,
dst, head_dim). Self-attention (one input) appends the new rows to the cache; cross-attention
with a non-empty cache uses the cache as k', v' and ignores k and v. The cache layout is pip
ncnn's (1.0.20261020, the oracle): multiheadattention_x86.cpp and docs/developer-guide/kvcache.md
of the checked-out source describe a transposed (w = seq, h = embed_dim) cache instead.
scale (6=) defaults to 1/sqrtf(embed_dim / num_heads) (integer division), which pip ncnn's
fast-math build computes as rsqrtss + a Newton step (an ulp off for some head dims, CPU-specific:
read from pip ncnn, ncnn_mha_scale.py); 6=0 scales q' by 0.

quantize_term (18=) 1..399 except 4-6: q, k, v, out weights stored int8 with per-row q/k/v
scales and one out scale (model2int8). ncnn then runs int8 whatever use_int8_inference says, and
so does this lowering, value for value (attention_int8.py, x86_softmax.py): bit-exact with pip
ncnn in the tests. Float weights with a quantize_term are refused (ncnn would read their bytes as
int8). 4xx/6xx/8xx (weight block quantization) is not supported here.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_size
from ncnnlike.layers import attention_int8, checks, ncnn_mha_scale, x86_softmax
from ncnnlike.layers.base import Link, Param, WeightSpec
from ncnnlike.layers.checks import Invalid

TYPE = "MultiHeadAttention"

AUTO_SCALE = float("nan")   # 6= absent: 1/sqrtf(embed_dim / num_heads), computed in lower()

# ModelWriter order: 0 1 2 3 4 5 6 7 18
PARAMS = (
    Param(0, "embed_dim", 0),
    Param(1, "num_heads", 1),
    Param(2, "weight_data_size", 0),
    Param(3, "kdim", Link(0)),
    Param(4, "vdim", Link(0)),
    Param(5, "attn_mask", 0),
    Param(6, "scale", AUTO_SCALE),
    Param(7, "kv_cache", 0),
    Param(18, "quantize_term", 0),
)

NAMES = ("q", "k", "v", "out")


def written_params(pairs):
    """ModelWriter compares each param with a default-constructed layer, whose embed_dim is 0: so
    kdim, vdim and scale are written whenever embed_dim is set, kdim / vdim as resolved and the scale
    as its default 1/sqrtf(embed_dim / num_heads) (integer division, as load_param computes it)."""
    values = dict(pairs)
    embed_dim, num_heads = values.get(0, 0), values.get(1, 1)
    if not embed_dim or num_heads <= 0:
        return pairs
    values.setdefault(3, embed_dim)
    values.setdefault(4, embed_dim)
    if 6 not in values and embed_dim // num_heads > 0:
        values[6] = float(np.float32(1) / np.sqrt(np.float32(embed_dim // num_heads)))
    order = [param.id for param in PARAMS]
    return [(pid, values[pid]) for pid in order if pid in values] + \
        [(pid, value) for pid, value in pairs if pid not in order]


def is_block_quantized(term):
    """4xx/6xx/8xx with format 0-1 and block code 0-2: weight-only block quantization."""
    return term // 100 in (4, 6, 8) and term % 100 // 10 in (0, 1) and term % 10 <= 2


def qdim_of(p):
    return p.weight_data_size // p.embed_dim if p.embed_dim > 0 else 0


def weights(p):
    """q, k, v, out weights (tagged) each with its bias (raw), then with a legacy int8
    quantize_term the q, k, v row scales and the out scale (load_model)."""
    term = p.quantize_term
    if term in (4, 5, 6) or (term >= 400 and not is_block_quantized(term)) or term < 0:
        raise NcnnlikeError("MultiHeadAttention quantize_term %d is refused by ncnn" % term)
    e, q = p.embed_dim, qdim_of(p)
    if is_block_quantized(term):
        return block_weights(p, e, q)
    specs = []
    for name, rows, cols, out in (("q", e, q, e), ("k", e, p.kdim, e), ("v", e, p.vdim, e), ("out", q, e, q)):
        specs += [WeightSpec(name + "_weight_data", rows * cols, True), WeightSpec(name + "_bias_data", out, False)]
    if term:
        specs += [WeightSpec(n + "_weight_data_int8_scales", e, False) for n in NAMES[:3]]
        specs.append(WeightSpec("out_weight_data_int8_scale", 1, False))
    return specs


def block_weights(p, e, q):
    """The .bin layout of weight block quantization (packed weights, block scales, input scales)."""
    bits, block = p.quantize_term // 100, (32, 64, 128)[p.quantize_term % 10]
    shapes = (("q", e, q), ("k", e, p.kdim), ("v", e, p.vdim), ("out", q, e))
    specs = []
    for name, rows, cols in shapes:
        specs += [WeightSpec(name + "_weight_data", (cols * bits + 7) // 8 * rows, True),
                  WeightSpec(name + "_bias_data", rows, False)]
    specs += [WeightSpec(name + "_weight_data_quantize_scales", (cols + block - 1) // block * rows, False)
              for name, rows, cols in shapes]
    if p.quantize_term % 100 // 10 == 1:
        specs += [WeightSpec(name + "_weight_data_input_scales", cols, False) for name, _, cols in shapes]
    return specs


def _where(layer):
    return "layer %s (MultiHeadAttention)" % layer.name


def bottom_roles(layer, p):
    """Bottom index of q, k, v, mask, cached k, cached v (resolve_bottom_blob_index; counts checked)."""
    inputs = len(layer.bottoms) - (1 if p.attn_mask else 0) - (2 if p.kv_cache else 0)
    k = 0 if inputs == 1 else 1
    v = inputs - 1
    cache = inputs + (1 if p.attn_mask else 0)
    return dict(q=0, k=k, v=v, mask=inputs if p.attn_mask else None,
                cached_k=cache if p.kv_cache else None, cached_v=cache + 1 if p.kv_cache else None)


def check_params(p):
    """What ncnn's load_param refuses, or its forward needs not to crash (layers/checks.py protocol:
    p carries bottom_count and top_count; raises checks.Invalid)."""
    term = p.quantize_term
    if term in (4, 5, 6) or term < 0 or (term >= 400 and not is_block_quantized(term)):
        raise Invalid("quantize_term=%d: ncnn refuses it (0, 1..399 but 4-6, or 4xx/6xx/8xx blocks)" % term)
    checks.positive(p, "embed_dim", "num_heads", "kdim", "vdim")
    checks.multiple(p, "embed_dim", p.num_heads, "num_heads")
    checks.multiple(p, "weight_data_size", p.embed_dim, "embed_dim")
    if p.scale == p.scale:
        checks.finite(p, "scale")
    extra = (1 if p.attn_mask else 0) + (2 if p.kv_cache else 0)
    checks.blob_count(p, (1 + extra, 3 + extra), 3 if p.kv_cache else 1)


def checked(layer, p):
    """check_params on a layer being lowered, as an NcnnlikeError naming the layer."""
    p.bottom_count, p.top_count = len(layer.bottoms), len(layer.tops)
    try:
        check_params(p)
    except Invalid as exc:
        raise NcnnlikeError("%s: %s" % (_where(layer), exc)) from None
    if is_block_quantized(p.quantize_term):
        raise NcnnlikeError("%s: weight block quantization (quantize_term %d) is not supported"
                            % (_where(layer), p.quantize_term))


def geometry(layer, p, ctx, roles):
    """(src, cur, past, dst) from the bottom shapes, checked against the params."""
    shape = lambda role: ctx.in_shape(layer, roles[role])
    q, k, v = shape("q"), shape("k"), shape("v")
    widths = (qdim_of(p), p.kdim, p.vdim)
    if any(len(s) != 2 for s in (q, k, v)) or (q[1], k[1], v[1]) != widths or k[0] != v[0]:
        raise NcnnlikeError("%s: q, k, v must be 2-D (seq, features) with %d, %d, %d features and k, v of equal "
                            "length, got %s, %s, %s" % ((_where(layer),) + widths + (q, k, v)))
    past = 0
    if p.kv_cache:
        ck, cv = shape("cached_k"), shape("cached_v")
        head = (p.num_heads, p.embed_dim // p.num_heads)
        empty = 0 in ck and 0 in cv
        if not empty and (len(ck) != 3 or ck != cv or ck[0::2] != head):
            raise NcnnlikeError("%s: cached k / v must be (heads=%d, past, head_dim=%d) blobs, got %s, %s"
                                % ((_where(layer),) + head + (ck, cv)))
        past = 0 if empty else ck[1]
    self_attention = roles["k"] == roles["q"]
    dst = (past + k[0] if self_attention else past) if past else k[0]
    if p.attn_mask:
        m = shape("mask")
        if tuple(m[-2:]) != (q[0], dst) or len(m) not in (2, 3) or (len(m) == 3 and m[0] != p.num_heads):
            raise NcnnlikeError("%s: attn_mask %s must be (%d, %d) or (%d, %d, %d)"
                                % (_where(layer), m, q[0], dst, p.num_heads, q[0], dst))
    return q[0], k[0], past, dst


def scale_of(p):
    """alpha of the q affine: 6= if given, else 1/sqrtf(embed_dim / num_heads) as pip ncnn's
    fast-math build computes it (ncnn_mha_scale.py; 1/sqrtf itself without pip ncnn)."""
    if p.scale == p.scale:
        return np.float32(p.scale)
    head_dim = p.embed_dim // p.num_heads
    measured = ncnn_mha_scale.default_scale(head_dim)
    return measured if measured is not None else np.float32(1) / np.sqrt(np.float32(head_dim))


def int8_weights(layer, p):
    """{name: (int8 rows, scales)} of q, k, v, out; refuses float weights (ncnn reads them as int8)."""
    out = {}
    for name in NAMES:
        w = np.asarray(layer.weights[name + "_weight_data"])
        if w.dtype != np.int8:
            raise NcnnlikeError("%s: quantize_term %d needs int8 weights (model2int8 output); %s_weight_data is %s"
                                % (_where(layer), p.quantize_term, name, w.dtype))
        scale_name = name + ("_weight_data_int8_scale" if name == "out" else "_weight_data_int8_scales")
        out[name] = (w, layer.weight(scale_name))
    return out


def affine(ctx, layer, x, name, rows, alpha=None, w8=None):
    """x.W^T + b (then * alpha) as (N, seq, rows): float, or ncnn's int8 Gemm with w8 (weights, scales)."""
    bias = layer.weight(name + "_bias_data")
    if w8 is not None:
        w, scales = w8
        y = attention_int8.const_a_gemm(ctx, x, w.reshape(rows, -1), scales, bias, layer.name + "_" + name)
    else:
        w = layer.weight(name + "_weight_data").reshape(rows, -1)
        y = ctx.op("Add", [ctx.op("MatMul", [x, ctx.const(np.ascontiguousarray(w.T), layer.name + "_" + name + "_w")]),
                           ctx.const(bias, layer.name + "_" + name + "_b")])
    return y if alpha is None else ctx.op("Mul", [y, ctx.const(alpha)])


def cache_rows(ctx, layer, index, p, past):
    """A cached (heads, past, head_dim) blob as rows (N, past, embed_dim)."""
    rows = ctx.op("Transpose", [ctx.bottom(layer, index)], perm=[0, 2, 1, 3])
    return ctx.op("Reshape", [rows, ctx.ints([0, past, p.embed_dim])])


def keys_values(ctx, layer, p, roles, past, w8):
    """k', v' as (N, dst, embed_dim): computed, cached, or cached followed by computed."""
    out = []
    for name in ("k", "v"):
        cached = roles["cached_" + name]
        if past and roles[name] != roles["q"]:
            out.append(cache_rows(ctx, layer, cached, p, past))
            continue
        rows = affine(ctx, layer, ctx.bottom(layer, roles[name]), name, p.embed_dim, w8=w8 and w8[name])
        if past:
            rows = ctx.op("Concat", [cache_rows(ctx, layer, cached, p, past), rows], axis=1)
        out.append(rows)
    return out


def heads(ctx, x, seq, p):
    """(N, seq, embed_dim) -> (N, heads, seq, head_dim)."""
    split = ctx.op("Reshape", [x, ctx.ints([0, seq, p.num_heads, p.embed_dim // p.num_heads])])
    return ctx.op("Transpose", [split], perm=[0, 2, 1, 3])


def attention(ctx, layer, p, roles, q, k, v, sizes, int8):
    """Per head softmax(q.k^T + mask).v, merged back to (N, src, embed_dim)."""
    src, dst = sizes
    head_dim = p.embed_dim // p.num_heads
    qh, kh, vh = heads(ctx, q, src, p), heads(ctx, k, dst, p), heads(ctx, v, dst, p)
    k_t = ctx.op("Transpose", [kh], perm=[0, 1, 3, 2])
    if int8:
        kinds = attention_int8.transposed_kinds(src, head_dim)
        qk = attention_int8.dynamic_gemm(ctx, qh, k_t, head_dim, [2, 3], kinds)
    else:
        qk = ctx.op("MatMul", [qh, k_t])
    if p.attn_mask:
        mask = ctx.bottom(layer, roles["mask"])
        if len(ctx.in_shape(layer, roles["mask"])) == 2:
            mask = ctx.op("Unsqueeze", [mask, ctx.ints([1])])
        qk = ctx.op("Add", [qk, mask])
    if int8:
        out = attention_int8.dynamic_gemm(ctx, x86_softmax.softmax(ctx, qk, dst), vh, dst, [2, 3])
    else:
        out = ctx.op("MatMul", [ctx.op("Softmax", [qk], axis=-1), vh])
    merged = ctx.op("Transpose", [out], perm=[0, 2, 1, 3])
    return ctx.op("Reshape", [merged, ctx.ints([0, src, p.embed_dim])])


def lower(layer, p, ctx):
    checked(layer, p)
    roles = bottom_roles(layer, p)
    src, _, past, dst = geometry(layer, p, ctx, roles)
    check_size("layer %s (MultiHeadAttention): attention weights" % layer.name, (p.num_heads, src, dst),
               "MAX_BLOB_BYTES", 4, "bytes per sample")   # q.k^T is larger than any blob (issue 15)
    int8 = bool(p.quantize_term)
    w8 = int8_weights(layer, p) if int8 else None
    q = affine(ctx, layer, ctx.bottom(layer, roles["q"]), "q", p.embed_dim, scale_of(p), w8 and w8["q"])
    k, v = keys_values(ctx, layer, p, roles, past, w8)
    merged = attention(ctx, layer, p, roles, q, k, v, (src, dst), int8)
    qdim = qdim_of(p)
    if int8:
        w, scale = w8["out"]
        out = attention_int8.const_b_gemm(ctx, merged, src, w.reshape(qdim, -1), float(scale.ravel()[0]),
                                          layer.weight("out_bias_data"), layer.name)
    else:
        out = affine(ctx, layer, merged, "out", qdim)
    ctx.top(layer, 0, out, (src, qdim))
    if p.kv_cache:
        head_dim = p.embed_dim // p.num_heads
        for i, rows in ((1, k), (2, v)):
            ctx.top(layer, i, heads(ctx, rows, dst, p), (p.num_heads, dst, head_dim))
