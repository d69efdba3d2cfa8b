/* ncnn's requantizing int8 depthwise convolution with AVX512-VNNI and AVX512-VBMI (layers/_dw_vnni.c).
 *
 * Arithmetic, as ncnn's x86 int8 depthwise with requantization (exact: each output equals our sim
 * mode's, layers/int8_sim.py; tests/layers/test_dw_vnni.py). NHWC, uint8 q + 128 in and out; taps
 * outside the input read q = 0 (the byte 128); per output
 *     s = sum over taps of q_in * w                          (int32, exact)
 *     v = float(s) * scale[c] + bias[c];  v = min(max(v, act_lo), act_hi)
 *     q = clamp(trunc(v * s_top + copysign(0.5, .)), -127, 127), stored as q + 128
 * in float32, multiply then add, no fused multiply-add.
 *
 * How (docs/int8-speed.md: 1.5-1.6x faster than onnxruntime's int8 depthwise kernel on Lite0's
 * layers): vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes into an int32 lane. The input
 * rows a output row reads are copied, padded, into a ring of kh rows blocked by 16 channels
 * (fill_row: for every padded column its 16 channels as 16 bytes), so that one 64-byte load holds
 * 4 columns of 16 channels and one vpermb turns it into lanes = channels, bytes = 4 horizontal
 * taps: one vpdpbusd then adds 3 or 4 useful products a lane. The q + 128 offset comes out as
 * 128 * sum(w) per channel (`corr`), the accumulators' starting value; a group's weights stay in
 * registers for its whole output row. (Four pixels a step sharing two windows a kernel row, with
 * weights shifted to each pixel, was faster alone but 6x the weight bytes: slower in a whole
 * network, measured with tools/profile_int8.py.) Where the activation bounds v below by 0 and act_hi is already the largest v whose q is <= 127
 * (`bounded`, found by the caller), the +-127 clamp cannot act and is left out.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define DW_MAX_KH 16          /* kernel rows held in the ring */
#define DW_MAX_QK 16          /* weight vectors of a channel group: kh * ceil(kw / 4) */

/* Everything one call needs; sizes checked by dw_check before any kernel runs. */
typedef struct {
    int n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow, bounded;
    int x_lo, x_hi;               /* the input's bytes are clamped to [x_lo, x_hi] as they are read */
    int parts;                    /* tasks a sample splits into, by output rows (threads to use) */
    float act_lo, act_hi, s_top;
    const uint8_t *x;             /* (n, h, w, c) */
    const int8_t *wv;             /* (groups, kh, nq, 64): lane i byte k = w[ky][4q + k][16g + i] */
    const float *scale, *bias;    /* (c) */
    const int32_t *corr;          /* (c): 128 * sum of the channel's weights */
    uint8_t *y;                   /* (n, oh, ow, c) */
} dw_args;

static int dw_groups(int c) { return (c + 15) / 16; }
static int dw_nq(int kw) { return (kw + 3) / 4; }

/* Columns of a ring row: the padded input width plus the 4 columns a load reads past it. */
static int dw_ring_cols(const dw_args *a)
{
    int wp = (a->ow - 1) * a->sw + a->kw;
    if (wp < a->w + a->pl)
        wp = a->w + a->pl;
    return wp + 4;
}

/* Tasks a sample splits into: `parts`, at most one an output row; task t takes output rows
 * t * oh / tasks up to (t + 1) * oh / tasks, every channel group. (By rows, not by channel groups:
 * the output is channels-last, so tasks holding channel groups write parts of the same cache lines,
 * pixel after pixel, and two threads ran a layer slower than one.) */
static int dw_tasks(const dw_args *a) { return a->parts < a->oh ? a->parts : a->oh; }     /* both >= 1: dw_check */

/* The ring of one task: kh padded input rows of every channel group. */
static size_t dw_ring_bytes(const dw_args *a)
{
    return (size_t)a->kh * dw_groups(a->c) * dw_ring_cols(a) * 16;
}

/* NULL when the geometry is one the kernel runs, else what is wrong with it. */
static const char *dw_check(const dw_args *a)
{
    if (a->n < 0 || a->h < 1 || a->w < 1 || a->c < 1 || a->kh < 1 || a->kw < 1 || a->sh < 1 || a->sw < 1
        || a->pt < 0 || a->pl < 0)
        return "sizes, kernel, strides and pads must be positive";
    if (a->kh > DW_MAX_KH || a->kh * dw_nq(a->kw) > DW_MAX_QK)
        return "kernel too large (kh <= 16, kh * ceil(kw / 4) <= 16)";
    if (a->oh < 1 || a->ow < 1 || (a->oh - 1) * a->sh + a->kh > a->h + a->pt + DW_MAX_KH
        || (a->ow - 1) * a->sw + a->kw > a->w + a->pl + 64)
        return "output size does not fit the input, kernel, strides and pads";
    if (a->h > 1 << 15 || a->w > 1 << 15 || a->c > 1 << 20)
        return "input too large";
    if (a->x_lo < 0 || a->x_hi > 255 || a->x_lo > a->x_hi)
        return "input clamp must satisfy 0 <= x_lo <= x_hi <= 255";
    if (a->parts < 1 || a->parts > 1024)
        return "parts must be 1 to 1024";
    return NULL;
}

#if defined(__GNUC__) && defined(__x86_64__)
#define DW_HAVE_KERNEL 1
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")

/* acc += the 4-byte dot products of u8 x and s8 w, in place (gcc's intrinsic lets the result land
 * in another register and then moves every accumulator back on every tap). */
#define DW_DPBUSD(acc, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w))

/* Padded row yp of every channel group into the ring row `dst` (a plane of `cols` columns of 16
 * bytes a group): input row yp - pt, the byte 128 (q = 0) outside the input and in a partial last
 * group's missing channels. */
static void dw_fill_row(const dw_args *a, const uint8_t *x, int yp, uint8_t *dst, int cols)
{
    int c = a->c, w = a->w, pl = a->pl, full = c / 16, groups = dw_groups(c), y = yp - a->pt;
    size_t plane = (size_t)cols * 16;
    if (y < 0 || y >= a->h) {
        memset(dst, 128, groups * plane);
        return;
    }
    const uint8_t *src_row = x + (size_t)y * w * c;
    for (int g = 0; g < groups; g++) {
        uint8_t *row = dst + g * plane;
        memset(row, 128, (size_t)pl * 16);
        memset(row + (size_t)(pl + w) * 16, 128, (size_t)(cols - pl - w) * 16);
        if (g == full)
            memset(row + (size_t)pl * 16, 128, (size_t)w * 16);
    }
    uint8_t *base = dst + (size_t)pl * 16;
    __m512i lo = _mm512_set1_epi8((char)a->x_lo), hi = _mm512_set1_epi8((char)a->x_hi);
    __m128i lo16 = _mm512_castsi512_si128(lo), hi16 = _mm512_castsi512_si128(hi);
    __mmask16 tail = (__mmask16)((1u << (c - 16 * full)) - 1);
    for (int xx = 0; xx < w; xx++) {       /* one 64-byte load for 4 groups, 4 16-byte stores */
        const uint8_t *src = src_row + (size_t)xx * c;
        uint8_t *col = base + (size_t)xx * 16;
        int g = 0;
        for (; g + 4 <= full; g += 4) {
            __m512i v = _mm512_min_epu8(_mm512_max_epu8(_mm512_loadu_si512(src + 16 * g), lo), hi);
            _mm_storeu_si128((__m128i *)(col + g * plane), _mm512_castsi512_si128(v));
            _mm_storeu_si128((__m128i *)(col + (g + 1) * plane), _mm512_extracti32x4_epi32(v, 1));
            _mm_storeu_si128((__m128i *)(col + (g + 2) * plane), _mm512_extracti32x4_epi32(v, 2));
            _mm_storeu_si128((__m128i *)(col + (g + 3) * plane), _mm512_extracti32x4_epi32(v, 3));
        }
        for (; g < full; g++)
            _mm_storeu_si128((__m128i *)(col + g * plane),
                             _mm_min_epu8(_mm_max_epu8(_mm_loadu_si128((const __m128i *)(src + 16 * g)), lo16), hi16));
        if (full < groups)
            _mm_mask_storeu_epi8(col + full * plane, tail,
                                 _mm_min_epu8(_mm_max_epu8(_mm_maskz_loadu_epi8(tail, src + 16 * full), lo16), hi16));
    }
}

/* Per-group constants of the requantization. */
typedef struct {
    __m512 scale, bias, lo, hi, s_top;
    __m512i start;                 /* -128 * sum(w): the accumulators' starting value */
    __mmask16 m;                   /* the group's channels */
    int mode;                      /* 0: signed, 1: v >= 0, 2: v >= 0 and the 127 clamp inert */
} dw_requant;

/* q + 128 of 16 accumulators, as int32 lanes. */
static inline __m512i dw_requant16(__m512i acc, const dw_requant *r)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), r->scale), r->bias);
    v = _mm512_min_ps(_mm512_max_ps(v, r->lo), r->hi);
    __m512 t = _mm512_mul_ps(v, r->s_top), half = _mm512_set1_ps(0.5f);
    if (r->mode == 0)
        half = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(half),
                                                   _mm512_and_si512(_mm512_castps_si512(t),
                                                                    _mm512_set1_epi32((int)0x80000000u))));
    __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(t, half));
    if (r->mode != 2)
        q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
    return _mm512_add_epi32(q, _mm512_set1_epi32(128));
}

static inline void dw_store(uint8_t *o, __m512i acc, const dw_requant *r)
{
    _mm512_mask_cvtusepi32_storeu_epi8(o, r->m, dw_requant16(acc, r));
}

/* `count` output pixels of one row and channel group. */
static inline __attribute__((always_inline)) void dw_row(const uint8_t *const *rows, size_t at, int sw, int c,
                                                             int count, const int kh, const int nq,
                                                             const __m512i *wv, __m512i perm, const dw_requant *r,
                                                             uint8_t *o)
{
    for (int ox = 0; ox < count; ox++) {
        __m512i acc = r->start;
        size_t col = at + (size_t)ox * sw * 16;
#pragma GCC unroll 5
        for (int ky = 0; ky < kh; ky++)
#pragma GCC unroll 2
            for (int q = 0; q < nq; q++) {
                __m512i v = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col + 64 * q));
                DW_DPBUSD(acc, v, wv[ky * nq + q]);
            }
        dw_store(o + (size_t)ox * c, acc, r);
    }
}

/* One output row of channel group g (plane g of the ring rows). */
static void dw_group_row(const dw_args *a, const uint8_t *const *rows, int g, const dw_requant *r,
                         __m512i perm, uint8_t *o, int cols)
{
    int kh = a->kh, nq = dw_nq(a->kw), ow = a->ow, c = a->c;
    size_t at = (size_t)g * cols * 16;
    __m512i wv[DW_MAX_QK];
    for (int k = 0; k < kh * nq; k++)
        wv[k] = _mm512_loadu_si512(a->wv + ((size_t)g * kh * nq + k) * 64);
    if (kh == 3 && nq == 1)                /* the taps unrolled: no loop exits to mispredict */
        dw_row(rows, at, a->sw, c, ow, 3, 1, wv, perm, r, o);
    else if (kh == 5 && nq == 2)
        dw_row(rows, at, a->sw, c, ow, 5, 2, wv, perm, r, o);
    else
        dw_row(rows, at, a->sw, c, ow, kh, nq, wv, perm, r, o);
}

static void dw_group_constants(const dw_args *a, int g, dw_requant *r)
{
    int n = a->c - 16 * g < 16 ? a->c - 16 * g : 16;
    r->m = (__mmask16)((1u << n) - 1);
    r->scale = _mm512_maskz_loadu_ps(r->m, a->scale + 16 * g);
    r->bias = _mm512_maskz_loadu_ps(r->m, a->bias + 16 * g);
    r->start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_maskz_loadu_epi32(r->m, a->corr + 16 * g));
    r->lo = _mm512_set1_ps(a->act_lo);
    r->hi = _mm512_set1_ps(a->act_hi);
    r->s_top = _mm512_set1_ps(a->s_top);
    r->mode = a->act_lo >= 0.0f ? 1 + (a->bounded != 0) : 0;
}

/* Task t of one sample, its output rows oy0..oy1-1 (dw_tasks), row after row, the kh padded input
 * rows they read kept blocked in the ring (kh * groups * cols * 16 bytes: cache-sized), each input
 * row blocked once a task. */
static void dw_task(const dw_args *a, const uint8_t *x, uint8_t *y, int t, uint8_t *ring)
{
    int kh = a->kh, cols = dw_ring_cols(a), groups = dw_groups(a->c), tasks = dw_tasks(a);
    int oy0 = (int)((long long)t * a->oh / tasks), oy1 = (int)((long long)(t + 1) * a->oh / tasks);
    size_t row_bytes = (size_t)groups * cols * 16;
    int held[DW_MAX_KH];
    for (int k = 0; k < kh; k++)
        held[k] = -1;
    uint8_t idx[64];
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 4; k++)
            idx[4 * i + k] = (uint8_t)(16 * k + i);
    __m512i perm = _mm512_loadu_si512(idx);
    for (int oy = oy0; oy < oy1; oy++) {
        const uint8_t *rows[DW_MAX_KH];
        for (int ky = 0; ky < kh; ky++) {
            int yp = oy * a->sh + ky, slot = yp % kh;
            if (held[slot] != yp) {
                dw_fill_row(a, x, yp, ring + slot * row_bytes, cols);
                held[slot] = yp;
            }
            rows[ky] = ring + slot * row_bytes;
        }
        for (int g = 0; g < groups; g++) {
            dw_requant r;
            dw_group_constants(a, g, &r);
            dw_group_row(a, rows, g, &r, perm, y + (size_t)oy * a->ow * a->c + 16 * g, cols);
        }
    }
}

/* ncnn's x86 float2int8 of x * scale as uint8 q + 128, elements lo..hi-1: t = x * scale clamped to
 * [-127, 127] (a NaN to -127, as the x86 conversion's INT_MIN is clamped), then
 * trunc(t + copysign(0.5, t)). Clamping first changes nothing else: rounding is monotone. */
static void dw_quantize(const float *x, float scale, uint8_t *y, size_t lo, size_t hi)
{
    __m512 s = _mm512_set1_ps(scale), top = _mm512_set1_ps(127.0f), bottom = _mm512_set1_ps(-127.0f);
    __m512 half = _mm512_set1_ps(0.5f);
    __m512i sign = _mm512_set1_epi32((int)0x80000000u), offset = _mm512_set1_epi32(128);
    for (size_t i = lo; i < hi; i += 16) {
        __mmask16 m = hi - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (hi - i)) - 1);
        __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        t = _mm512_min_ps(_mm512_max_ps(t, bottom), top);          /* max(NaN, -127) is -127 */
        __m512 h = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(half),
                                                       _mm512_and_si512(_mm512_castps_si512(t), sign)));
        __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_add_ps(t, h)), offset);
        _mm512_mask_cvtusepi32_storeu_epi8(y + i, m, q);
    }
}

/* dw_quantize of the c (1 to 3) planes of one NCHW sample (`plane` floats apart), pixels lo..hi-1,
 * written channels-last four bytes a pixel: channel k's byte k, `pad` in bytes c..3 (an image
 * stem's input, its channels padded to 4 for onnxruntime's QLinearConv, in one pass). */
static void dw_quantize_pack4(const float *x, size_t plane, int c, float scale, uint8_t pad, uint8_t *y, size_t lo,
                              size_t hi)
{
    __m512 s = _mm512_set1_ps(scale), top = _mm512_set1_ps(127.0f), bottom = _mm512_set1_ps(-127.0f);
    __m512 half = _mm512_set1_ps(0.5f);
    __m512i sign = _mm512_set1_epi32((int)0x80000000u), offset = _mm512_set1_epi32(128);
    uint32_t fill = 0;
    for (int k = c; k < 4; k++)
        fill |= (uint32_t)pad << (8 * k);
    for (size_t i = lo; i < hi; i += 16) {
        __mmask16 m = hi - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (hi - i)) - 1);
        __m512i v = _mm512_set1_epi32((int)fill);
        for (int k = 0; k < c; k++) {
            __m512 t = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k * plane + i), s);
            t = _mm512_min_ps(_mm512_max_ps(t, bottom), top);
            __m512 h = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(half),
                                                           _mm512_and_si512(_mm512_castps_si512(t), sign)));
            __m512i q = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_add_ps(t, h)), offset);
            v = _mm512_or_si512(v, _mm512_sllv_epi32(q, _mm512_set1_epi32(8 * k)));
        }
        _mm512_mask_storeu_epi32(y + 4 * i, m, v);
    }
}

#pragma GCC pop_options

/* Whether this CPU runs the kernel. */
static int dw_cpu_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
           && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
           && __builtin_cpu_supports("avx512vbmi");
}

/* Task `index` of the layer, numbered sample after sample (dw_tasks(a) a sample); `ring` holds
 * dw_ring_bytes(a). Tasks write disjoint outputs: any may run on any thread. */
static void dw_run_task(const dw_args *a, size_t index, uint8_t *ring)
{
    size_t i = index / dw_tasks(a), t = index % dw_tasks(a);
    size_t in = (size_t)a->h * a->w * a->c, out = (size_t)a->oh * a->ow * a->c;
    dw_task(a, a->x + i * in, a->y + i * out, (int)t, ring);
}
#else
#define DW_HAVE_KERNEL 0
static int dw_cpu_supported(void) { return 0; }
static void dw_run_task(const dw_args *a, size_t index, uint8_t *ring) { (void)a; (void)index; (void)ring; }
static void dw_quantize(const float *x, float scale, uint8_t *y, size_t lo, size_t hi)
{
    (void)x; (void)scale; (void)y; (void)lo; (void)hi;
}
static void dw_quantize_pack4(const float *x, size_t plane, int c, float scale, uint8_t pad, uint8_t *y, size_t lo,
                              size_t hi)
{
    (void)x; (void)plane; (void)c; (void)scale; (void)pad; (void)y; (void)lo; (void)hi;
}
#endif

/* The whole layer on the calling thread. */
static void dw_run(const dw_args *a, uint8_t *ring)
{
    for (size_t k = 0; k < (size_t)a->n * dw_tasks(a); k++)
        dw_run_task(a, k, ring);
}
