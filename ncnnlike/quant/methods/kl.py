"""KL method (spec 5.5): ncnn2table's entropy threshold search, reproduced bit for bit in float32.

For every candidate t = 128..2047 ncnn builds P (t bins: H + eps, clipped tail folded into the last
bin), Q (128 averages of the unclipped H over fractional source intervals), expands Q back to E,
and sums P*log(P/E) sequentially in float32; the first strictly smallest KL wins and
threshold = (t + 0.5) * absmax / 2048. Every rounding step of ncnn is kept, vectorised over t:
- the interval geometry (starts, ends, partial weights, divisors) depends only on t: computed once
  per process and cached (_Geometry);
- every sequential float32 sum (Q's full bins, P's folded tail, the KL sum over i) is done as
  in-order array adds, one summand per step, so each element rounds exactly like ncnn's loop;
- the ~2.1M (i, t) terms of all KL sums form one flat triangle processed in cache-sized chunks;
- log is glibc's logf (ncnn calls `log` on a float): glibc's own table and polynomial evaluated in
  float64 (`logf`), because numpy's float32 log rounds differently in ~9% of cases.
This assumes ncnn2table built without FMA contraction, as the spec's [V] check found.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError

NUM_BINS = 2048
TARGET_BIN = 128
EPS = np.float32(0.0001)
_CHUNK = 32768
_T = np.arange(TARGET_BIN, NUM_BINS)

# glibc sysdeps/ieee754/flt-32/e_logf_data.c: 16 (invc, logc) pairs, ln2, polynomial A[0..2].
_LOGF_TAB = np.array([float.fromhex(s) for s in (
    "0x1.661ec79f8f3bep+0 -0x1.57bf7808caadep-2 0x1.571ed4aaf883dp+0 -0x1.2bef0a7c06ddbp-2 "
    "0x1.49539f0f010bp+0 -0x1.01eae7f513a67p-2 0x1.3c995b0b80385p+0 -0x1.b31d8a68224e9p-3 "
    "0x1.30d190c8864a5p+0 -0x1.6574f0ac07758p-3 0x1.25e227b0b8eap+0 -0x1.1aa2bc79c81p-3 "
    "0x1.1bb4a4a1a343fp+0 -0x1.a4e76ce8c0e5ep-4 0x1.12358f08ae5bap+0 -0x1.1973c5a611cccp-4 "
    "0x1.0953f419900a7p+0 -0x1.252f438e10c1ep-5 0x1p+0 0x0p+0 "
    "0x1.e608cfd9a47acp-1 0x1.aa5aa5df25984p-5 0x1.ca4b31f026aap-1 0x1.c5e53aa362eb4p-4 "
    "0x1.b2036576afce6p-1 0x1.526e57720db08p-3 0x1.9c2d163a1aa2dp-1 0x1.bc2860d22477p-3 "
    "0x1.886e6037841edp-1 0x1.1058bc8a07ee1p-2 0x1.767dcf5534862p-1 0x1.4043057b6ee09p-2").split()]).reshape(16, 2)
_LN2 = float.fromhex("0x1.62e42fefa39efp-1")
_A0, _A1, _A2 = (float.fromhex(s) for s in ("-0x1.00ea348b88334p-2", "0x1.5575b0be00b6ap-2", "-0x1.ffffef20a4123p-2"))


def _logf_tables():
    """invc and y0 = logc + k*ln2 for each of the 8192 values of (x - OFF) >> 19 (k: 9-bit signed)."""
    idx = np.arange(8192)
    i = idx & 15
    k = (idx >> 4).astype(np.float64)
    k[k >= 256] -= 512
    return _LOGF_TAB[i, 0].copy(), _LOGF_TAB[i, 1] + k * _LN2


_INVC, _Y0 = _logf_tables()
_LOGF_PAIRS = _INVC + 1j * _Y0     # one gather fetches both


def logf(x):
    """glibc's logf for positive normal float32 x (e_logf.c: table of 16, degree-4 polynomial).

    Same operations in the same order as glibc, in float64; one gather of (invc, y0) per value.
    """
    x = np.ascontiguousarray(x, np.float32).reshape(-1)
    out = np.empty(x.shape, np.float32)
    for s in range(0, x.size, _CHUNK):
        out[s:s + _CHUNK] = _logf_chunk(x[s:s + _CHUNK])
    return out


def _logf_chunk(x):
    """logf of one contiguous float32 chunk (e_logf.c line by line; comments give glibc's lines)."""
    ix = x.view(np.uint32)
    tmp = ix - np.uint32(0x3F330000)
    table = np.take(_LOGF_PAIRS, tmp >> np.uint32(19))
    np.bitwise_and(tmp, np.uint32(0xFF800000), out=tmp)
    np.subtract(ix, tmp, out=tmp)
    r = tmp.view(np.float32).astype(np.float64)
    r *= table.real                  # r = z * invc - 1
    r -= 1.0
    r2 = r * r
    y = r * _A1                      # y = A1 * r + A2
    y += _A2
    w = r2 * _A0                     # y = A0 * r2 + y
    y += w
    y *= r2                          # y = y * r2 + (y0 + r)
    r += table.imag
    y += r
    return y.astype(np.float32)


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
        lu = np.ceil(start).astype(np.int64)
        rl = np.floor(end).astype(np.int64)
        self.lu, self.rl = lu, rl
        self.ls = np.float32(lu) - start
        self.rs = end - np.float32(rl)
        self.divisor = (np.float32(rl - lu) + self.ls) + self.rs
        self._full_bins(lu, rl)
        self._triangle()

    def _full_bins(self, lu, rl):
        """Order (t, j) by number of full source bins, so 'the m-th full bin' is a prefix slice."""
        n = (rl - lu).ravel()
        self.order = np.argsort(-n, kind="stable")
        self.lu_sorted = lu.ravel()[self.order]
        n_sorted = n[self.order]
        self.prefix = [int(np.count_nonzero(n_sorted > m)) for m in range(int(n.max()))]

    def _triangle(self):
        """All (i, t) with i < t, flattened row by row (row i: t = max(128, i+1)..2047).

        e_index points each entry at its E value in the table of _expand_table.
        """
        rows = []
        for i in range(NUM_BINS - 1):
            t = _T[max(0, i + 1 - TARGET_BIN):]
            j = i * TARGET_BIN // t
            straddle = ((j + 1) * t < (i + 1) * TARGET_BIN) & (j < TARGET_BIN - 1)
            col = np.where(straddle, TARGET_BIN + j, j)
            rows.append(col * len(_T) + (t - TARGET_BIN))
        self.row_len = np.array([len(r) for r in rows])
        self.e_index = np.concatenate(rows).astype(np.int32)
        offsets = np.concatenate([[0], np.cumsum(self.row_len)[:-1]])
        self.last_of_t = offsets[TARGET_BIN - 1:]      # row t-1 starts with entry t: P[t-1], the folded tail
        self.row_slices = [(int(o), int(n)) for o, n in zip(offsets, self.row_len)]


_GEOMETRY = None


def _geometry():
    global _GEOMETRY
    if _GEOMETRY is None:
        _GEOMETRY = _Geometry()
    return _GEOMETRY


def _quantize(H, g):
    """Q[t, j] for all t: partial edges, then full source bins in order, over the divisor (step 4c)."""
    lu_1 = np.maximum(g.lu - 1, 0)
    left = np.where(g.ls > 0, g.ls * H[lu_1], np.float32(0))
    right = np.where(g.rs > 0, g.rs * H[np.minimum(g.rl, NUM_BINS - 1)], np.float32(0))
    acc = (left + right).ravel()[g.order]
    for m, count in enumerate(g.prefix):
        acc[:count] += H[m:][g.lu_sorted[:count]]
    q = np.empty_like(acc)
    q[g.order] = acc
    return q.reshape(g.lu.shape) / g.divisor


def _expand_table(Q, g):
    """E values by (column, t): eps + Q[j] for a full source bin (column j), and
    (eps + rs*Q[j]) + ls*Q[j+1] for the source bin straddling j|j+1 (column 128 + j)  (step 4d).

    Stored column-major so that a row of the triangle (fixed i, increasing t) reads it nearly in order.
    """
    table = np.empty((2 * TARGET_BIN, len(_T)), np.float32)
    table[:TARGET_BIN] = (EPS + Q).T
    table[TARGET_BIN:2 * TARGET_BIN - 1] = ((EPS + g.rs[:, :-1] * Q[:, :-1]) + g.ls[:, 1:] * Q[:, 1:]).T
    table[-1] = EPS
    return table.ravel()


def _folded_tails(H):
    """P[t-1] for every t: eps + H[t-1], then H[t], ..., H[2047] added one by one (step 4a)."""
    acc = EPS + H[TARGET_BIN - 1:NUM_BINS - 1]
    for k in np.flatnonzero(H[TARGET_BIN:]) + TARGET_BIN:
        acc[:k - TARGET_BIN + 1] += H[k]
    return acc


def kl_divergences(counts):
    """KL(t) for t = 128..2047 (float32, index t - 128), as ncnn computes them."""
    g = _geometry()
    H = normalize(counts)
    table = _expand_table(_quantize(H, g), g)
    P = np.repeat(EPS + H[:NUM_BINS - 1], g.row_len)
    P[g.last_of_t] = _folded_tails(H)
    terms = np.empty_like(P)
    for s in range(0, P.size, _CHUNK):
        p = P[s:s + _CHUNK]
        terms[s:s + _CHUNK] = p * _logf_chunk(p / np.take(table, g.e_index[s:s + _CHUNK]))
    kl = np.zeros(len(_T), np.float32)
    for offset, n in g.row_slices:          # row i adds its term to KL(t) of every t > i, in order of i
        kl[-n:] += terms[offset:offset + n]
    return kl


def best_bin(counts):
    """The t with the strictly smallest KL (the first one on ties)."""
    return TARGET_BIN + int(np.argmin(kl_divergences(counts)))


def threshold(stats):
    """Blob threshold (t + 0.5) * absmax / 2048 in float32 (spec 5.5 step 5); 0 for an all-zero blob."""
    histogram = stats.histogram
    if histogram is None:
        raise NcnnlikeError("method kl needs the phase-2 histogram")
    if histogram.absmax == 0 or histogram.total() == 0:
        return 0.0
    t = best_bin(histogram.counts)
    return float((np.float32(t) + np.float32(0.5)) * np.float32(histogram.absmax) / np.float32(NUM_BINS))
