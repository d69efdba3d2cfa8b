"""The default scale of pip ncnn's MultiHeadAttention (6= absent), read from pip ncnn itself.

ncnn's load_param sets scale = 1.f / sqrtf(embed_dim / num_heads). Its -ffast-math build computes
that as the CPU's rsqrtss estimate plus one Newton step, which differs from 1/sqrtf by an ulp for
about 40% of head dims (6, 7, 10, 17, ..., 40, 72, 96, 112, 160; measured against pip ncnn
1.0.20261020), and the estimate is CPU-specific (AMD and Intel differ). The value is read from
pip ncnn running MultiHeadAttention, not from machine code of ours (no executable memory):

  one head of size d, q' = scale * 1024 e0 (Wq = 0, bq = 1024 e0), keys e0 and 0, values e0 and
  -e0 (identity weights), and per query row i the mask (-1024 c_i, 0) for a candidate c_i near
  1/sqrtf(d): the logits are (1024 scale - 1024 c_i, 0), exactly equal only for c_i = scale, and
  then the two softmax weights are equal and the output p1 - p2 is exactly 0.
"""
import functools

import numpy as np

SPAN = 64           # candidates each side of 1/sqrtf(d), in ulps (the estimate is within a few)
LIFT = 1024         # a power of two: 1024 * scale is exact, and logits an ulp apart differ clearly


def probe_model(d):
    """(param text, bin bytes) of the probe layer for head size d."""
    eye, zero = np.eye(d, dtype=np.float32), np.zeros((d, d), np.float32)
    bq = np.zeros(d, np.float32)
    bq[0] = LIFT
    tag = np.zeros(1, np.uint32).tobytes()
    binary = b"".join(tag + w.tobytes() + b.tobytes()
                      for w, b in ((zero, bq), (eye, 0 * bq), (eye, 0 * bq), (eye, 0 * bq)))
    param = ("7767517\n5 5\nInput q 0 1 q\nInput k 0 1 k\nInput v 0 1 v\nInput m 0 1 m\n"
             "MultiHeadAttention a 4 1 q k v m o 0=%d 1=1 2=%d 5=1\n" % (d, d * d))
    return param, binary


def probe_inputs(d, candidates):
    """q, k, v, mask of the probe for the candidate scales."""
    k = np.zeros((2, d), np.float32)
    k[0, 0] = 1
    v = k.copy()
    v[1, 0] = -1
    mask = np.zeros((candidates.size, 2), np.float32)
    mask[:, 0] = -candidates * np.float32(LIFT)
    return {"q": np.zeros((candidates.size, d), np.float32), "k": k, "v": v, "m": mask}


@functools.lru_cache(maxsize=None)
def default_scale(head_dim):
    """pip ncnn's scale for head size `head_dim` (float32), or None without pip ncnn (or when the
    probe finds no single candidate)."""
    try:
        import ncnn
    except ImportError:
        return None
    from ncnnlike.runtime.ncnn_backend import load_pair, plain_net
    guess = np.float32(1) / np.sqrt(np.float32(head_dim))
    candidates = (guess.view(np.int32) + np.arange(-SPAN, SPAN + 1, dtype=np.int32)).view(np.float32)
    param, binary = probe_model(head_dim)
    net = plain_net(ncnn)
    if not load_pair(net, param, binary, "ncnnlike-mha-"):
        return None
    ex = net.create_extractor()
    inputs = {name: ncnn.Mat(value).clone() for name, value in probe_inputs(head_dim, candidates).items()}
    for name, mat in inputs.items():
        ex.input(name, mat)
    ret, out = ex.extract("o")
    if ret != 0:
        return None
    hits = candidates[np.array(out, np.float32)[:, 0] == 0]
    return np.float32(hits[0]) if hits.size == 1 else None
