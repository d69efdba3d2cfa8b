"""A fast float64 estimate of ncnn's float32 KL(t), with a rigorous bound on its error (kl.best_bin).

With P and E as ncnn builds them (spec 5.5), KL(t) ~ sum_{i<t} P_i ln(P_i / E_i). Over the full
source bins of target bin j, E_i is one value E_j, so their part is S(P ln P) - S(P) ln E_j with
prefix sums S over i: O(128) work per t instead of O(t). Straddling bins and the folded tail are
added one by one.

The bound covers every way ncnn's float32 result can differ from that real-number value (u = 2^-24):
- E: Q is a rounded average of <= 18 non-negative terms, E = eps + Q rounded: |ln E32 - ln E| <= 24u;
- the tail: a float32 sum of <= 2048 non-negative terms, relative error <= gamma_2048;
- each term: division (u), glibc logf (<= 0.818 ulp; 1 ulp = 2u|y| used), product (u), giving
  |tau_i - P_i ln(P_i/E_i)| <= u P_i (3.1 |ln(P_i/E_i)| + 1.1);
- the sequential sum of t terms: <= gamma_t sum|tau_i|, gamma_n = n u / (1 - n u);
- this module's own float64 rounding (prefix sums of <= 2048 terms): < 1e-8, allowed 1e-7.
sum|tau_i| needs sum P_i |ln P_i - ln E_j| over each target bin: by Cauchy-Schwarz it is at most
sqrt(S(P) * S(P (ln P - ln E_j)^2)), again from prefix sums (of P, P ln P and P ln^2 P).
"""
import numpy as np

try:        # the same estimate compiled (_klest.c), built at install where a C compiler is found
    from ncnnlike.quant.methods import _klest as _compiled
except ImportError:
    _compiled = None

U = 2.0 ** -24
NUM_BINS = 2048
TARGET_BIN = 128
EPS = float(np.float32(0.0001))
_FLOAT64_SLACK = 1e-7
_MOMENT_SLACK = 1e-9      # float64 error of a second moment from prefix sums (|terms| <= ~100, 2048 adds)
ROWS = 384                # values of t estimated at a time (arrays of 384 x 128 float64: 384 KB)


def gamma(n):
    """Higham's gamma_n: the relative error bound of n float32 roundings."""
    return n * U / (1 - n * U)


class _Indices:
    """Histogram-independent index arrays over (t, j), derived once from kl._Geometry."""

    def __init__(self, g):
        self.t = np.arange(TARGET_BIN, NUM_BINS)
        npb = self.t / TARGET_BIN                              # the divisor of every Q[t, j], exactly
        position = np.arange(TARGET_BIN + 1) * npb[:, None]    # bin boundaries j * t / 128, exact
        self.floor = np.floor(position).astype(np.int64)
        self.frac = position - self.floor
        self.npb = npb[:, None]
        self.lu = g.lu
        self.stop = g.rl.copy()
        self.stop[:, -1] = self.t - 1                          # the last source bin holds the tail
        self.straddle = np.ascontiguousarray(self.floor[:, 1:-1])   # source bin straddling j|j+1...
        self.rs = np.ascontiguousarray(self.frac[:, 1:-1])          # ...if its part in j, rs, is > 0
        self.ls = np.where(self.rs > 0, 1 - self.rs, 0.0)
        self.gamma_t = gamma(self.t)


_INDICES = {}


def _indices(g):
    if id(g) not in _INDICES:
        _INDICES.clear()
        _INDICES[id(g)] = _Indices(g)
    return _INDICES[id(g)]


def _prefix(values):
    return np.concatenate([[0.0], np.cumsum(values)])


class _Sums:
    """The histogram's own arrays the estimate reads: H, P = eps + H and ln P as float64, their
    prefix sums (of H, P, P ln P, P ln^2 P) and the suffix sums of H."""

    def __init__(self, H):
        self.H = H.astype(np.float64)
        self.P = (np.float32(0.0001) + H).astype(np.float64)           # ncnn's float32 P_i, exactly
        self.lnP = np.log(self.P)
        self.cH, self.cP = _prefix(self.H), _prefix(self.P)
        self.cPL, self.cPL2 = _prefix(self.P * self.lnP), _prefix(self.P * self.lnP * self.lnP)
        self.suffix = np.concatenate([np.cumsum(self.H[::-1])[::-1], [0.0]])


def estimate(H, g):
    """(estimate, bound) of KL(t) for t = 128..2047: |ncnn's float32 KL(t) - estimate| <= bound.

    H: the float32 normalised histogram; g: kl._Geometry (ncnn's intervals for every t).
    Compiled where the install built _klest.c (Lite0's 50 estimates: 0.105-0.109 s of CPU against
    0.32 s in numpy, and on 2 threads the KL step takes 0.08 s of wall against 0.33: the kernel
    releases the GIL, numpy's ~45 calls a block hold it in between).
    """
    if _compiled is not None:
        return compiled_estimate(H)
    return numpy_estimate(H, g)


def compiled_estimate(H):
    """estimate() through the compiled kernel (~3x less CPU, and the GIL released)."""
    est, bound = np.empty(NUM_BINS - TARGET_BIN), np.empty(NUM_BINS - TARGET_BIN)
    _compiled.estimate(np.ascontiguousarray(H, np.float32), est, bound)
    return est, bound


def numpy_estimate(H, g):
    """estimate() in numpy (installs without the compiled kernel). Computed ROWS values of t at a
    time: each row's arithmetic is the same, and the blocks' arrays stay in the core's cache. Lite0's
    50 searches at 1 thread: 0.39-0.47 s against 1.47-1.67 for all rows at once with glibc's default
    malloc (every full-size temporary a fresh mapping), 0.39-0.46 against 0.53-0.59 with
    model2table's heap settings (runtime/heap.py)."""
    x, sums = _indices(g), _Sums(H)
    est, bound = np.empty(len(x.t)), np.empty(len(x.t))
    for start in range(0, len(x.t), ROWS):
        rows = slice(start, start + ROWS)
        est[rows], bound[rows] = _block(sums, x, rows)
    return est, bound


def _block(s, x, rows):
    """(estimate, bound) for the rows `rows` of t."""
    take = np.take
    floor, stop, lu = x.floor[rows], x.stop[rows], x.lu[rows]
    straddle, rs, ls = x.straddle[rows], x.rs[rows], x.ls[rows]
    cumulative = take(s.cH, floor) + x.frac[rows] * take(s.H, floor)   # integral of H up to each boundary
    Q = np.diff(cumulative, axis=1) / x.npb[rows]              # = (ls H[lu-1] + full bins + rs H[rl]) / divisor
    lnE = np.log(EPS + Q)
    sp = take(s.cP, stop) - take(s.cP, lu)
    spl = take(s.cPL, stop) - take(s.cPL, lu)
    est = (spl - sp * lnE).sum(axis=1)
    moment = (take(s.cPL2, stop) - take(s.cPL2, lu)) - 2 * lnE * spl + lnE * lnE * sp
    spread = np.sqrt(sp * (np.maximum(moment, 0) + _MOMENT_SLACK)).sum(axis=1)
    mass = sp.sum(axis=1)

    ps = np.where(rs > 0, take(s.P, straddle), 0.0)
    d = take(s.lnP, straddle) - np.log(EPS + rs * Q[:, :-1] + ls * Q[:, 1:])
    est += (ps * d).sum(axis=1)
    spread += (ps * np.abs(d)).sum(axis=1)
    mass += ps.sum(axis=1)

    t = x.t[rows]
    tail = (EPS + s.H[t - 1]) + s.suffix[t]
    d = np.log(tail) - lnE[:, -1]
    est += tail * d
    tail_error = 1.01 * gamma(NUM_BINS) * tail * (np.abs(d) + 1.01)
    mass += tail
    spread += tail * np.abs(d) + 24 * U * mass + tail_error

    sum_tau = spread * (1 + 3 * U) + 1.1 * U * mass
    bound = (x.gamma_t[rows] * sum_tau + U * (3.1 * spread + 1.1 * mass) + 24 * U * mass + tail_error
             + _FLOAT64_SLACK)
    return est, bound
