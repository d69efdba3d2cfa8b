"""SDPA against pip ncnn: heads and groups (GQA), 2-D and 3-D masks, scale, 2-D inputs, the kv
cache; float within float tolerance (ncnn's x86 gemm and exp differ from onnxruntime's in the last
bits) and the dynamic int8 path (18=2) equal to the bit, whatever use_int8_inference says."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import INT8_BITEXACT, check_ncnn, make_model, run_ncnn, run_ours
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
FLOAT = dict(atol=1e-5, rtol=1e-4)


def rand(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def sdpa(bottoms, tops, params=""):
    inputs = "".join("Input in_%s 0 1 %s\n" % (b, b) for b in bottoms)
    return inputs + "SDPA s %d %d %s %s %s" % (len(bottoms), len(tops), " ".join(bottoms), " ".join(tops), params)


def float_and_int8(bottoms, tops, params, inputs, tmp_path):
    check_ncnn(sdpa(bottoms, tops, params), inputs, tmp_path, **FLOAT)
    for use_int8 in (True, False):
        check_ncnn(sdpa(bottoms, tops, params + " 18=2"), inputs, tmp_path, **INT8_BITEXACT, int8=use_int8)


def qkv(heads, groups, src, cur, e, ev):
    return {"q": rand(heads, src, e), "k": rand(groups, cur, e), "v": rand(groups, cur, ev)}


def test_heads_default_scale(tmp_path):
    float_and_int8(["q", "k", "v"], ["o"], "", qkv(3, 3, 5, 6, 8, 8), tmp_path)


def test_grouped_query_attention_with_scale(tmp_path):
    float_and_int8(["q", "k", "v"], ["o"], "6=0.3", qkv(4, 2, 7, 9, 16, 12), tmp_path)


@pytest.mark.parametrize("mask_shape", [(7, 9), (1, 7, 9), (4, 7, 9)])
def test_masks(mask_shape, tmp_path):
    inputs = dict(qkv(4, 2, 7, 9, 16, 12), m=rand(*mask_shape) * 2)
    float_and_int8(["q", "k", "v", "m"], ["o"], "5=1 6=0.125", inputs, tmp_path)


def test_2d_inputs_are_one_head_with_a_3d_top(tmp_path):
    inputs = {"q": rand(5, 8), "k": rand(6, 8), "v": rand(6, 4)}
    outs = check_ncnn(sdpa(["q", "k", "v"], ["o"]), inputs, tmp_path, **FLOAT)
    assert outs["o"][0].shape == (2, 1, 5, 4)


def test_long_sequence_int8_is_bit_exact(tmp_path):
    """197 rows: 16-, 4-wide and scalar softmax chunks, 64-deep int8 dot products."""
    inputs = dict(qkv(4, 2, 197, 197, 64, 64), m=rand(197, 197))
    check_ncnn(sdpa(["q", "k", "v", "m"], ["o"], "5=1 18=2"), inputs, tmp_path, **INT8_BITEXACT, int8=True, batch=1)


def test_causal_mask_of_minus_infinity(tmp_path):
    """A decoder's causal mask: -inf past the diagonal (batch 1: the oracle perturbs by the absmax)."""
    inputs = dict(qkv(4, 2, 21, 21, 64, 64), m=np.triu(np.full((21, 21), -np.inf, np.float32), 1))
    text = sdpa(["q", "k", "v", "m"], ["o"], "5=1 6=0.125")
    check_ncnn(text, inputs, tmp_path, batch=1, **FLOAT)
    check_ncnn(text + " 18=2", inputs, tmp_path, **INT8_BITEXACT, int8=True, batch=1)


def test_kv_cache_int8_is_bit_exact(tmp_path):
    inputs = dict(qkv(4, 2, 3, 3, 16, 12), m=rand(3, 8), pk=rand(2, 5, 16), pv=rand(2, 5, 12))
    check_ncnn(sdpa(["q", "k", "v", "m", "pk", "pv"], ["o", "ko", "vo"], "5=1 7=1 18=2"), inputs, tmp_path,
               **INT8_BITEXACT, int8=True)


def test_empty_kv_cache_int8_is_bit_exact(tmp_path):
    param, binfile, _ = make_model(sdpa(["q", "k", "v", "pk", "pv"], ["o", "ko", "vo"], "7=1 18=2"), tmp_path)
    feeds = {name: value[None] for name, value in qkv(4, 2, 3, 3, 16, 12).items()}
    feeds.update(pk=np.zeros((1, 2, 0, 16), np.float32), pv=np.zeros((1, 2, 0, 12), np.float32))
    theirs = run_ncnn(param, binfile, feeds, ["o", "ko", "vo"], int8=True)
    ours = run_ours(param, binfile, feeds, ["o", "ko", "vo"], int8=True)
    for name in ("o", "ko", "vo"):
        np.testing.assert_array_equal(ours[name][0], theirs[name][0])


def reference(q, k, v, mask, scale):
    """numpy SDPA of one sample: q (h, s, e), k (g, d, e), v (g, d, ev), mask (s, d)."""
    k = np.repeat(k, q.shape[0] // k.shape[0], axis=0)
    v = np.repeat(v, q.shape[0] // v.shape[0], axis=0)
    s = q @ np.swapaxes(k, 1, 2) * scale + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def test_float_kv_cache_against_numpy():
    """pip ncnn 1.0.20261020's float SDPA returns corrupted k/v caches (even with an empty past);
    its int8 path is right (tests above), so the float cache is checked against numpy."""
    x = qkv(4, 2, 3, 3, 16, 12)
    m, pk, pv = rand(3, 8), rand(2, 5, 16), rand(2, 5, 12)
    feeds = {n: np.stack([a, a * 0.5]) for n, a in dict(x, m=m, pk=pk, pv=pv).items()}
    l = layer("SDPA", "s", ["q", "k", "v", "m", "pk", "pv"], ["o", "ko", "vo"], {5: 1, 7: 1})
    outs = run_layers([l], feeds)
    for i in range(2):
        k = np.concatenate([feeds["pk"][i], feeds["k"][i]], 1)
        v = np.concatenate([feeds["pv"][i], feeds["v"][i]], 1)
        np.testing.assert_array_equal(outs["ko"][i], k)
        np.testing.assert_array_equal(outs["vo"][i], v)
        np.testing.assert_allclose(outs["o"][i], reference(feeds["q"][i], k, v, feeds["m"][i], 0.25), **FLOAT)


def test_no_weights():
    assert weight_specs(layer("SDPA", "s", [], [], {18: 2})) == []


@pytest.mark.parametrize("params,shapes,tops,match", [
    ({5: 1}, [(2, 3, 4)] * 3, 1, "3 bottom blobs, ncnn's forward needs 4"),
    ({7: 1}, [(2, 3, 4)] * 5, 1, "1 top blob, ncnn's forward needs 3"),
    ({}, [(2, 3, 4), (2, 3, 5), (2, 3, 4)], 1, "do not match"),
    ({}, [(3, 3, 4), (2, 3, 4), (2, 3, 4)], 1, "do not match"),
    ({5: 1}, [(2, 3, 4)] * 3 + [(3, 4)], 1, "attn_mask"),
])
def test_bad_params_name_the_layer(params, shapes, tops, match):
    names = ["b%d" % i for i in range(len(shapes))]
    l = layer("SDPA", "bad", names, ["t%d" % i for i in range(tops)], params)
    with pytest.raises(NcnnlikeError, match="layer bad \\(SDPA\\).*" + match):
        run_layers([l], {n: rand(1, *s) for n, s in zip(names, shapes)})
