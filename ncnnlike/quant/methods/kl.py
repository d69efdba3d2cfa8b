"""KL method (spec 5.5): ncnn2table's entropy threshold search, reproduced bit for bit in float32.

For every candidate t = 128..2047 ncnn builds P (t bins: H + eps, clipped tail folded into the last
bin), Q (128 averages of the unclipped H over fractional source intervals), expands Q back to E,
and sums P*log(P/E) sequentially in float32; the first strictly smallest KL wins and
threshold = (t + 0.5) * absmax / 2048. `kl_divergences` computes that whole curve exactly,
vectorised over t, keeping every rounding step of ncnn:
- the interval geometry (starts, ends, partial weights, divisors) depends only on t: computed once
  per process and cached (_Geometry);
- every sequential float32 sum (Q's full bins, P's folded tail, the KL sum over i) is done as
  in-order array adds, one summand per step, so each element rounds exactly like ncnn's loop;
- log is glibc's logf (logf.py).
This assumes ncnn2table built without FMA contraction, as the spec's [V] check found.

`best_bin` gets the same answer several times faster: a float64 estimate of every KL(t) from
prefix sums (kl_bound.py) with a rigorous bound on its distance to ncnn's float32 value leaves
only the few t that can still be the minimum, and those are computed exactly.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.methods import kl_bound
from ncnnlike.quant.methods.logf import CHUNK, logf_chunk

NUM_BINS = 2048
TARGET_BIN = 128
EPS = np.float32(0.0001)
MAX_CANDIDATES = 100          # beyond this many, the full vectorised curve is cheaper
_T = np.arange(TARGET_BIN, NUM_BINS)


def normalize(counts):
    """H[k] = float32(hist[k] / (double)sum(hist))  (spec 5.5 step 3)."""
    counts = np.asarray(counts, np.uint64)
    return (counts.astype(np.float64) / np.float64(counts.sum())).astype(np.float32)


class _Geometry:
    """The histogram-independent part of the search, computed once: every interval of every t."""

    def __init__(self):
        t = _T[:, None]
        j = np.arange(TARGET_BIN)[None, :]
        npb = np.float32(t) / np.float32(TARGET_BIN)                 # (float)threshold / target_bin
        start = np.float32(j) * npb                                   # j * num_per_bin
        end = np.float32(j + 1) * npb
        start[:, :1] = 0                                              # bin 0: no left part
        start[:, -1:] = np.float32(t) - npb[:, :1]                    # last bin: threshold - num_per_bin
        end[:, -1:] = np.float32(t)                                   # last bin: no right part
        self.lu = np.ceil(start).astype(np.int64)
        self.rl = np.floor(end).astype(np.int64)
        self.ls = np.float32(self.lu) - start
        self.rs = end - np.float32(self.rl)
        self.divisor = (np.float32(self.rl - self.lu) + self.ls) + self.rs
        self.full = self.rl - self.lu                                 # full source bins per target bin
        self.full_order = _longest_first(self.full)
        self.triangle = None

    def with_triangle(self):
        """Self, with the triangle of kl_divergences built (8 MB and its build: only when the full
        curve is needed, which best_bin rarely needs)."""
        if self.triangle is None:
            self._triangle()
            self.triangle = True
        return self

    def _triangle(self):
        """All (i, t) with i < t, flattened row by row (row i: t = max(128, i+1)..2047), and where
        each entry's E value sits in the table of _expand_table (column j, or 128 + j if straddling)."""
        rows = []
        for i in range(NUM_BINS - 1):
            t = _T[max(0, i + 1 - TARGET_BIN):]
            rows.append(_e_column(i, t) * len(_T) + (t - TARGET_BIN))
        self.row_len = np.array([len(r) for r in rows])
        self.e_index = np.concatenate(rows).astype(np.int32)
        offsets = np.concatenate([[0], np.cumsum(self.row_len)[:-1]])
        self.last_of_t = offsets[TARGET_BIN - 1:]      # row t-1 starts with entry t: P[t-1], the folded tail
        self.row_slices = [(int(o), int(n)) for o, n in zip(offsets, self.row_len)]


def _longest_first(full):
    """Order of the (t, j) by decreasing number of full bins, so 'has an m-th bin' is a prefix."""
    order = np.argsort(-full.ravel(), kind="stable")
    n_sorted = full.ravel()[order]
    return order, [int(np.count_nonzero(n_sorted > m)) for m in range(int(n_sorted[0]) if n_sorted.size else 0)]


def _e_column(i, t):
    """Source bin i lies in target bin j = i*128//t; it straddles j|j+1 if that boundary is inside it."""
    j = i * TARGET_BIN // t
    straddle = ((j + 1) * t < (i + 1) * TARGET_BIN) & (j < TARGET_BIN - 1)
    return np.where(straddle, TARGET_BIN + j, j)


_GEOMETRY = None


def _geometry():
    global _GEOMETRY
    if _GEOMETRY is None:
        _GEOMETRY = _Geometry()
    return _GEOMETRY


def _quantize(H, g, rows=None):
    """Q[t, j] for all t, or the selected rows: partial edges, then full source bins in order, over
    the divisor (step 4c). The m-th full bin of every (t, j) is added in one array step."""
    order, prefix = g.full_order if rows is None else _longest_first(g.full[rows])
    rows = slice(None) if rows is None else rows
    lu, rl, ls, rs = g.lu[rows], g.rl[rows], g.ls[rows], g.rs[rows]
    left = np.where(ls > 0, ls * H[np.maximum(lu - 1, 0)], np.float32(0))
    right = np.where(rs > 0, rs * H[np.minimum(rl, NUM_BINS - 1)], np.float32(0))
    acc, lu_sorted = (left + right).ravel()[order], lu.ravel()[order]
    for m, count in enumerate(prefix):
        acc[:count] += H[m:][lu_sorted[:count]]
    q = np.empty_like(acc)
    q[order] = acc
    return q.reshape(lu.shape) / g.divisor[rows]


def _expand_table(Q, g, rows=None):
    """E values by (column, t): eps + Q[j] for a full source bin (column j), and
    (eps + rs*Q[j]) + ls*Q[j+1] for the source bin straddling j|j+1 (column 128 + j)  (step 4d).
    Column-major, so a row of the triangle (fixed i, increasing t) reads it nearly in order."""
    rows = slice(None) if rows is None else rows
    rs, ls = g.rs[rows], g.ls[rows]
    table = np.empty((2 * TARGET_BIN, Q.shape[0]), np.float32)
    table[:TARGET_BIN] = (EPS + Q).T
    table[TARGET_BIN:2 * TARGET_BIN - 1] = ((EPS + rs[:, :-1] * Q[:, :-1]) + ls[:, 1:] * Q[:, 1:]).T
    table[-1] = EPS
    return table


def _folded_tails(H):
    """P[t-1] for every t: eps + H[t-1], then H[t], ..., H[2047] added one by one (step 4a)."""
    acc = EPS + H[TARGET_BIN - 1:NUM_BINS - 1]
    for k in np.flatnonzero(H[TARGET_BIN:]) + TARGET_BIN:
        acc[:k - TARGET_BIN + 1] += H[k]
    return acc


def kl_divergences(counts):
    """KL(t) for t = 128..2047 (float32, index t - 128), exactly as ncnn computes them."""
    g = _geometry().with_triangle()
    H = normalize(counts)
    table = _expand_table(_quantize(H, g), g).ravel()
    P = np.repeat(EPS + H[:NUM_BINS - 1], g.row_len)
    P[g.last_of_t] = _folded_tails(H)
    terms = np.empty_like(P)
    for s in range(0, P.size, CHUNK):
        p = P[s:s + CHUNK]
        terms[s:s + CHUNK] = p * logf_chunk(p / np.take(table, g.e_index[s:s + CHUNK]))
    kl = np.zeros(len(_T), np.float32)
    for offset, n in g.row_slices:          # row i adds its term to KL(t) of every t > i, in order of i
        kl[-n:] += terms[offset:offset + n]
    return kl


def kl_divergences_at(H, ts):
    """Exact KL(t) (float32) for a few t, given the normalised histogram H: the same steps, per t."""
    g = _geometry()
    ts = np.asarray(ts)
    table = _expand_table(_quantize(H, g, ts - TARGET_BIN), g, ts - TARGET_BIN)
    out = np.empty(len(ts), np.float32)
    for n, t in enumerate(ts.tolist()):
        P = EPS + H[:t]
        P[t - 1] = np.cumsum(np.concatenate([P[t - 1:t], H[t:]]))[-1]     # tail folded one by one
        E = table[_e_column(np.arange(t), t), n]
        out[n] = np.cumsum(P * logf_chunk(P / E))[-1]
    return out


def best_bin(counts):
    """The t with the strictly smallest KL (the first one on ties), as ncnn finds it."""
    H = normalize(counts)
    estimate, bound = kl_bound.estimate(H, _geometry())
    candidates = np.flatnonzero(estimate - bound <= np.min(estimate + bound))
    if len(candidates) > MAX_CANDIDATES:
        return TARGET_BIN + int(np.argmin(kl_divergences(counts)))
    exact = kl_divergences_at(H, candidates + TARGET_BIN)
    return TARGET_BIN + int(candidates[np.argmin(exact)])


def threshold(stats):
    """Blob threshold (t + 0.5) * absmax / 2048 in float32 (spec 5.5 step 5); 0 for an all-zero blob."""
    histogram = stats.histogram
    if histogram is None:
        raise NcnnlikeError("method kl needs the phase-2 histogram")
    if histogram.absmax == 0 or histogram.total() == 0:
        return 0.0
    t = best_bin(histogram.counts)
    return float((np.float32(t) + np.float32(0.5)) * np.float32(histogram.absmax) / np.float32(NUM_BINS))
