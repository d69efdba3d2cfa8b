/* ncnnlike.quant.methods._klest: kl_bound.estimate's float64 estimate of KL(t) and its bound, compiled.
 *
 * estimate(H, est, bound) fills est[t - 128] and bound[t - 128] for t = 128..2047 from the 2048
 * float32 values of the normalised histogram H, with the same formulas as kl_bound._block (see
 * kl_bound.py for what they bound and why). Bad arguments raise TypeError or ValueError.
 *
 * Why compiled: numpy evaluates the 490 K logarithms and 245 K square roots a search needs well, but
 * as ~45 calls per block of rows; between them the GIL is held, so two calibration threads reach
 * only 1.2-1.6 cores, and each call's temporaries cost memory traffic. Here each t is one pass over
 * its 128 target bins held in registers and L1, the GIL is released, and the loops vectorise.
 *
 * The interval geometry is integer arithmetic: ncnn's float32 j * (t / 128) is exact for t < 2048,
 * so ceil and floor of it are (j * t + 127) >> 7 and (j * t) >> 7, the same values kl._Geometry
 * derives in float32 (tests/quant/test_kl.py compares this estimate with numpy's on every t).
 *
 * Logarithms use log_near (below), not libm's: a branch-free reduction and series that vectorises.
 * Every argument is eps + a sum of histogram masses, so positive and normal; on 1e-4.5 .. 1e3.5
 * log_near is within 2 float64 ulps of libm's log (measured: at most 1.8e-15 absolute), far inside
 * the 1e-7 kl_bound allows its own float64 arithmetic, so the bound stays rigorous. No -ffast-math:
 * nothing is reassociated (the sums run in 8 interleaved partial sums, a fixed order).
 */
#include "../../_buffer.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NUM_BINS 2048
#define TARGET_BIN 128
#define U 5.9604644775390625e-08          /* 2^-24 */
#define FLOAT64_SLACK 1e-7
#define MOMENT_SLACK 1e-9

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

static const double LN2_HI = 6.93147180369123816490e-01;    /* fdlibm's split of ln 2 */
static const double LN2_LO = 1.90821492927058770002e-10;

/* ln x for normal positive x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
 * s = (m - 1) / (m + 1), |s| <= 0.1716; the odd series to s^19 leaves < 1e-17 relative. */
static inline double log_near(double x)
{
    uint64_t bits, ebits = 0x4330000000000000ULL;    /* 2^52 + biased exponent, read as a double */
    memcpy(&bits, &x, sizeof bits);
    ebits |= bits >> 52;
    uint64_t mbits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;    /* m in [1, 2) */
    int big = (int64_t)mbits > (int64_t)0x3ff6a09e667f3bcdLL;                    /* m > sqrt(2) */
    mbits -= (uint64_t)big << 52;                                                   /* then m / 2 */
    double m, e;
    memcpy(&m, &mbits, sizeof m);
    memcpy(&e, &ebits, sizeof e);
    double k = (e - 4503599627371519.0) + (double)big;       /* 2^52 + 1023 */
    double s = (m - 1.0) / (m + 1.0), z = s * s;
    double p = 2.0 / 19;
    p = p * z + 2.0 / 17;
    p = p * z + 2.0 / 15;
    p = p * z + 2.0 / 13;
    p = p * z + 2.0 / 11;
    p = p * z + 2.0 / 9;
    p = p * z + 2.0 / 7;
    p = p * z + 2.0 / 5;
    p = p * z + 2.0 / 3;
    return k * LN2_HI + ((2.0 * s + s * z * p) + k * LN2_LO);
}

/* The histogram's arrays the estimate reads (kl_bound._Sums): H, P = float32(eps + H), ln P, prefix
 * sums of H, P, P ln P, P ln^2 P (index i: the sum of the first i) and suffix sums of H. */
struct sums {
    double H[NUM_BINS], P[NUM_BINS], lnP[NUM_BINS];
    double cH[NUM_BINS + 1], cP[NUM_BINS + 1], cPL[NUM_BINS + 1], cPL2[NUM_BINS + 1], suffix[NUM_BINS + 1];
};

static void make_sums(const float *H32, struct sums *s)
{
    s->cH[0] = s->cP[0] = s->cPL[0] = s->cPL2[0] = 0.0;
    for (int i = 0; i < NUM_BINS; i++) {
        s->H[i] = H32[i];
        s->P[i] = (double)(0.0001f + H32[i]);
        s->lnP[i] = log(s->P[i]);
        s->cH[i + 1] = s->cH[i] + s->H[i];
        s->cP[i + 1] = s->cP[i] + s->P[i];
        s->cPL[i + 1] = s->cPL[i] + s->P[i] * s->lnP[i];
        s->cPL2[i + 1] = s->cPL2[i] + s->P[i] * s->lnP[i] * s->lnP[i];
    }
    s->suffix[NUM_BINS] = 0.0;
    for (int i = NUM_BINS - 1; i >= 0; i--)
        s->suffix[i] = s->suffix[i + 1] + s->H[i];
}

static double gamma_n(double n)
{
    return n * U / (1 - n * U);
}

/* The sum of n values (n a multiple of 8) in eight interleaved partial sums: vectorises. */
static inline double sum8(const double *v, int n)
{
    double acc[8] = {0};
    for (int i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++)
            acc[k] += v[i + k];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* (estimate, bound) of KL(t): kl_bound._block for one row. The table reads come first, as plain
 * loads into arrays; then element-wise loops over the target bins (no gathers, no reductions in
 * them: they vectorise), then the sums. */
CLONES static void estimate_row(const struct sums *s, int t, double eps, double *est_out, double *bound_out)
{
    double cum[TARGET_BIN + 1], sp[TARGET_BIN], spl[TARGET_BIN], spl2[TARGET_BIN], rs[TARGET_BIN];
    double ls[TARGET_BIN], ps[TARGET_BIN], lnps[TARGET_BIN], Q[TARGET_BIN], lnE[TARGET_BIN];
    double e_full[TARGET_BIN], s_full[TARGET_BIN], e_str[TARGET_BIN], s_str[TARGET_BIN];
    for (int j = 0; j <= TARGET_BIN; j++) {          /* integral of H up to each boundary j t / 128 */
        int f = (j * t) >> 7;
        cum[j] = s->cH[f] + ((j * t) & 127) / 128.0 * s->H[f];
    }
    for (int j = 0; j < TARGET_BIN; j++) {           /* P's full source bins of target bin j: [lu, stop) */
        int lu = (j * t + 127) >> 7, stop = j < TARGET_BIN - 1 ? ((j + 1) * t) >> 7 : t - 1;
        sp[j] = s->cP[stop] - s->cP[lu];
        spl[j] = s->cPL[stop] - s->cPL[lu];
        spl2[j] = s->cPL2[stop] - s->cPL2[lu];
    }
    for (int j = 0; j < TARGET_BIN - 1; j++) {       /* the source bin straddling j | j + 1, if any */
        int b = ((j + 1) * t) >> 7;
        rs[j] = (((j + 1) * t) & 127) / 128.0;
        ls[j] = rs[j] > 0 ? 1 - rs[j] : 0.0;
        ps[j] = rs[j] > 0 ? s->P[b] : 0.0;
        lnps[j] = s->lnP[b];
    }
    rs[TARGET_BIN - 1] = ls[TARGET_BIN - 1] = ps[TARGET_BIN - 1] = lnps[TARGET_BIN - 1] = 0.0;
    double npb = t / 128.0;
    for (int j = 0; j < TARGET_BIN; j++) {
        Q[j] = (cum[j + 1] - cum[j]) / npb;
        lnE[j] = log_near(eps + Q[j]);
        double moment = spl2[j] - 2 * lnE[j] * spl[j] + lnE[j] * lnE[j] * sp[j];
        e_full[j] = spl[j] - sp[j] * lnE[j];
        s_full[j] = sqrt(sp[j] * (0.5 * (moment + fabs(moment)) + MOMENT_SLACK));    /* max(moment, 0) */
    }
    for (int j = 0; j < TARGET_BIN - 1; j++) {
        double d = lnps[j] - log_near(eps + rs[j] * Q[j] + ls[j] * Q[j + 1]);
        e_str[j] = ps[j] * d;
        s_str[j] = ps[j] * fabs(d);
    }
    e_str[TARGET_BIN - 1] = s_str[TARGET_BIN - 1] = 0.0;
    double est = sum8(e_full, TARGET_BIN) + sum8(e_str, TARGET_BIN);
    double spread = sum8(s_full, TARGET_BIN) + sum8(s_str, TARGET_BIN);
    double mass = sum8(sp, TARGET_BIN) + sum8(ps, TARGET_BIN);
    double tail = (eps + s->H[t - 1]) + s->suffix[t];  /* the last bin, the clipped tail folded in */
    double d = log_near(tail) - lnE[TARGET_BIN - 1];
    est += tail * d;
    double tail_error = 1.01 * gamma_n(NUM_BINS) * tail * (fabs(d) + 1.01);
    mass += tail;
    spread += tail * fabs(d) + 24 * U * mass + tail_error;
    double sum_tau = spread * (1 + 3 * U) + 1.1 * U * mass;
    *est_out = est;
    *bound_out = gamma_n(t) * sum_tau + U * (3.1 * spread + 1.1 * mass) + 24 * U * mass + tail_error + FLOAT64_SLACK;
}

static PyObject *estimate(PyObject *self, PyObject *args)
{
    PyObject *h_obj, *est_obj, *bound_obj;
    Py_buffer h, e, b;
    const Py_ssize_t rows = NUM_BINS - TARGET_BIN;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &h_obj, &est_obj, &bound_obj))
        return NULL;
    if (get_buffer(h_obj, &h, 0, "f", 4, NUM_BINS, "H") < 0)
        return NULL;
    if (get_buffer(est_obj, &e, 1, "d", 8, rows, "est") < 0) {
        PyBuffer_Release(&h);
        return NULL;
    }
    if (get_buffer(bound_obj, &b, 1, "d", 8, rows, "bound") < 0) {
        PyBuffer_Release(&h);
        PyBuffer_Release(&e);
        return NULL;
    }
    const float *H32 = h.buf;
    int ok = 1;
    for (int i = 0; i < NUM_BINS; i++)
        ok &= H32[i] >= 0.0f && H32[i] <= 1.0f;      /* a normalised histogram: also refuses nan */
    struct sums *s = ok ? PyMem_RawMalloc(sizeof *s) : NULL;
    int nomem = ok && s == NULL;
    if (s != NULL) {
        Py_BEGIN_ALLOW_THREADS
        make_sums(H32, s);
        double eps = (double)0.0001f;
        for (int t = TARGET_BIN; t < NUM_BINS; t++)
            estimate_row(s, t, eps, (double *)e.buf + (t - TARGET_BIN), (double *)b.buf + (t - TARGET_BIN));
        Py_END_ALLOW_THREADS
        PyMem_RawFree(s);
    }
    PyBuffer_Release(&h);
    PyBuffer_Release(&e);
    PyBuffer_Release(&b);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "H must hold values in [0, 1]");
        return NULL;
    }
    if (nomem)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"estimate", estimate, METH_VARARGS,
     "estimate(H, est, bound): kl_bound.estimate of 2048 float32 H into 1920 float64 est and bound."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_klest", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__klest(void)
{
    return PyModule_Create(&module);
}
