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

U = 2.0 ** -24
NUM_BINS = 2048
TARGET_BIN = 128
EPS = float(np.float32(0.0001))
_FLOAT64_SLACK = 1e-7
_MOMENT_SLACK = 1e-9      # float64 error of a second moment from prefix sums (|terms| <= ~100, 2048 adds)


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


def estimate(H, g):
    """(estimate, bound) of KL(t) for t = 128..2047: |ncnn's float32 KL(t) - estimate| <= bound.

    H: the float32 normalised histogram; g: kl._Geometry (ncnn's intervals for every t).
    """
    x = _indices(g)
    H64 = H.astype(np.float64)
    P = (np.float32(0.0001) + H).astype(np.float64)           # ncnn's float32 P_i, exactly
    lnP = np.log(P)
    cH, cP, cPL, cPL2 = _prefix(H64), _prefix(P), _prefix(P * lnP), _prefix(P * lnP * lnP)
    suffix = np.concatenate([np.cumsum(H64[::-1])[::-1], [0.0]])

    take = np.take
    cumulative = take(cH, x.floor) + x.frac * take(H64, x.floor)   # integral of H up to each boundary
    Q = np.diff(cumulative, axis=1) / x.npb                    # = (ls H[lu-1] + full bins + rs H[rl]) / divisor
    lnE = np.log(EPS + Q)
    sp = take(cP, x.stop) - take(cP, x.lu)
    spl = take(cPL, x.stop) - take(cPL, x.lu)
    est = (spl - sp * lnE).sum(axis=1)
    moment = (take(cPL2, x.stop) - take(cPL2, x.lu)) - 2 * lnE * spl + lnE * lnE * sp
    spread = np.sqrt(sp * (np.maximum(moment, 0) + _MOMENT_SLACK)).sum(axis=1)
    mass = sp.sum(axis=1)

    ps = np.where(x.rs > 0, take(P, x.straddle), 0.0)
    d = take(lnP, x.straddle) - np.log(EPS + x.rs * Q[:, :-1] + x.ls * Q[:, 1:])
    est += (ps * d).sum(axis=1)
    spread += (ps * np.abs(d)).sum(axis=1)
    mass += ps.sum(axis=1)

    tail = (EPS + H64[x.t - 1]) + suffix[x.t]
    d = np.log(tail) - lnE[:, -1]
    est += tail * d
    tail_error = 1.01 * gamma(NUM_BINS) * tail * (np.abs(d) + 1.01)
    mass += tail
    spread += tail * np.abs(d) + 24 * U * mass + tail_error

    sum_tau = spread * (1 + 3 * U) + 1.1 * U * mass
    bound = x.gamma_t * sum_tau + U * (3.1 * spread + 1.1 * mass) + 24 * U * mass + tail_error + _FLOAT64_SLACK
    return est, bound
