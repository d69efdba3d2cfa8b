/* Extrema (domain "ncnnlike"), an op of the custom-op library _dw_vnni.c for calibration's pass 1
 * (quant/probes.py): a float tensor x (N, K) -> its per-sample minimum and maximum, two float (N,)
 * outputs; both nan where a sample holds a nan. One pass over each blob where ReduceMin and
 * ReduceMax took two (onnxruntime's reductions: ~1.2 ms of an 11 ms Lite0 sample, 50 blobs).
 * Runs on any CPU (AVX-512 where the CPU has it, else a plain loop).
 * Included by _dw_vnni.c, after its declarations of onnxruntime's ABI. */

/* Minimum and maximum of v[0..n-1] (n >= 1) into lo, hi; nan for both where a value is nan. */
static void extrema_plain(const float *v, size_t n, float *lo, float *hi)
{
    float a = v[0], b = v[0];
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        a = x < a ? x : a;
        b = x > b ? x : b;
        bad |= x != x;
    }
    *lo = bad ? NAN : a;
    *hi = bad ? NAN : b;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* extrema_plain in AVX-512, four vectors a step (vminps keeps the running value where x is nan;
 * an unordered compare flags it): a compiler keeps a running float min scalar without -ffast-math. */
__attribute__((target("avx512f"))) static void extrema_avx512(const float *v, size_t n, float *lo, float *hi)
{
    __m512 a[4], b[4];
    __mmask16 bad = 0;
    for (int j = 0; j < 4; j++)
        a[j] = b[j] = _mm512_set1_ps(v[0]);
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int j = 0; j < 4; j++) {
            __m512 x = _mm512_loadu_ps(v + i + 16 * j);
            a[j] = _mm512_min_ps(x, a[j]);
            b[j] = _mm512_max_ps(x, b[j]);
            bad |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        }
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_mask_loadu_ps(a[0], m, v + i);          /* lanes past the end: a[0]'s */
        a[0] = _mm512_min_ps(x, a[0]);
        b[0] = _mm512_max_ps(_mm512_mask_loadu_ps(b[0], m, v + i), b[0]);
        bad |= _mm512_mask_cmp_ps_mask(m, x, x, _CMP_UNORD_Q);
    }
    for (int j = 1; j < 4; j++)
        a[0] = _mm512_min_ps(a[j], a[0]), b[0] = _mm512_max_ps(b[j], b[0]);
    *lo = bad ? NAN : _mm512_reduce_min_ps(a[0]);
    *hi = bad ? NAN : _mm512_reduce_max_ps(b[0]);
}

/* The AVX-512 loop where the CPU has it (libgcc reads the CPU's features when the library loads). */
static void extrema_row(const float *v, size_t n, float *lo, float *hi)
{
    if (__builtin_cpu_supports("avx512f"))
        extrema_avx512(v, n, lo, hi);
    else
        extrema_plain(v, n, lo, hi);
}
#else
#define extrema_row extrema_plain
#endif

typedef struct {
    OrtApiTable *api;
} ExtremaKernel;

static void *e_create(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    (void)op, (void)info;
    ExtremaKernel *k = calloc(1, sizeof(ExtremaKernel));
    if (k != NULL)
        k->api = api;
    return k;
}

/* The outputs: (N,) each, or empty where x is not (N, K) float with K >= 1 (this ABI version
 * cannot fail a call; the caller checks the shapes). */
static void e_compute(void *op_kernel, OrtKernelContext *ctx)
{
    const ExtremaKernel *k = op_kernel;
    void *x = NULL, *y[2] = {NULL, NULL};
    size_t count = 0, rank = 0;
    int64_t dims[MAX_RANK] = {0};
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    int good = input(k->api, ctx, 0, T_FLOAT, &x, &count, dims, &rank) && rank == 2 && dims[0] >= 0 && dims[1] >= 1;
    int64_t n = good ? dims[0] : 0;
    for (size_t i = 0; i < 2; i++)
        y[i] = output_data(k->api, ctx, i, &n, 1);
    if (!good || n == 0 || y[0] == NULL || y[1] == NULL)
        return;
    for (int64_t s = 0; s < n; s++)
        extrema_row((const float *)x + s * dims[1], (size_t)dims[1], (float *)y[0] + s, (float *)y[1] + s);
}

static const char *e_name(const OrtCustomOp *op) { (void)op; return "Extrema"; }
static int e_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_FLOAT; }
static size_t e_inputs(const OrtCustomOp *op) { (void)op; return 1; }
static size_t e_outputs(const OrtCustomOp *op) { (void)op; return 2; }

static const OrtCustomOp extrema_op = {ORT_API_VERSION_USED, e_create, e_name, op_provider, e_type, e_inputs,
                                       e_type, e_outputs, e_compute, destroy, op_required, op_required};
