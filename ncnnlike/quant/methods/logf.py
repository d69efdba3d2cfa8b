"""glibc's logf, bit for bit, vectorised: ncnn2table's KL calls `log` on floats (spec 5.5 step 4e).

numpy's float32 log rounds differently from the C library in ~9% of cases, so the KL sums would
differ; this evaluates glibc's own algorithm (sysdeps/ieee754/flt-32/e_logf.c: a 16-entry table
and a degree-4 polynomial in double, rounded once to float) with the same operations in the same
order. Its documented error is 0.818 ulp, which the KL bound (kl.py) relies on.
"""
import numpy as np

CHUNK = 32768

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
    x = np.asarray(x, np.float32)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, np.float32)
    for s in range(0, flat.size, CHUNK):
        out[s:s + CHUNK] = logf_chunk(flat[s:s + CHUNK])
    return out.reshape(x.shape)


def logf_chunk(x):
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
