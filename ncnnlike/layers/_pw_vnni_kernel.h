/* ncnn's int8 1x1 convolution with a float top (stride 1, no padding, one group) with
 * AVX512-VNNI, NHWC: the third kernel of the custom-op library _dw_vnni.c (layers/pw_vnni.py).
 *
 * Arithmetic, as ncnn's x86 int8 Convolution (exact: each output equals our sim mode's): uint8
 * q + 128 in; per output channel n of a pixel
 *     s = sum over k of q_in[k] * w[n][k]                           (int32, exact)
 *     v = fma(float(s), scale[n], bias[n]);  v = min(max(v, act_lo), act_hi)     (float32 out)
 * or, with fma off, v = float(s) * scale[n] + bias[n] in two roundings: ncnn's x86 int8
 * InnerProduct, whose rows are this kernel's pixels.
 *
 * How: out[pixel][16 channels] += vpdpbusd(4 input bytes of the pixel broadcast to every lane,
 * the 16 channels' weights of those 4 inputs). Six pixels and 32 output channels at a time: 12
 * accumulators, each 4-byte broadcast used twice, each weight vector six times. The q + 128 offset
 * comes out as 128 * sum(w) per channel (`corr`), the accumulators' starting value.
 * Fused (the ops PointwiseInt8Q / PointwiseInt8AddQ, layers/pw_fuse.py): the ncnn BinaryOp add that
 * follows the layer, v + r[pixel][channel] in float32, is done at the store (`r`), and the sum is
 * also quantized for the next conv as ncnn's float2int8(v * qscale), q + 128 (`q`): the same
 * arithmetic as the Add and the QuantizeInt8 op they replace, without their passes over memory.
 * (Requantized tops stay on onnxruntime's QLinearConv: this kernel with ncnn's requantization,
 * eleven instructions a vector of outputs, was slower there; docs/int8-speed.md.)
 */

#define PW_TILE 6             /* pixels of a tile */

/* What the store does besides y: nothing, q, or r added first then q (the ops PointwiseInt8,
 * PointwiseInt8Q, PointwiseInt8AddQ; a compile-time constant in each copy of pw_blocks). */
enum { PW_PLAIN, PW_Q, PW_ADD_Q, PW_MODES };

typedef struct {
    int m, k, n, fma;         /* fma: one rounding (Convolution), else two (InnerProduct) */
    float act_lo, act_hi;
    const uint8_t *x;         /* (m, k) */
    const int8_t *w;          /* (ceil(n / 16), k / 4, 16 lanes, 4 bytes): lane i byte j = w[16b + i][4t + j] */
    const float *scale, *bias;
    const int32_t *corr;      /* (n): 128 * sum of the channel's weights */
    float *y;                 /* (m, n) */
    const float *r;           /* (m, n) added to y, or NULL */
    uint8_t *q;               /* (m, n) y quantized with qscale as q + 128, or NULL */
    float qscale;
} pw_args;

/* NULL when the geometry is one the kernel runs, else what is wrong with it. */
static const char *pw_check(const pw_args *a)
{
    if (a->m < 0 || a->k < 4 || a->k % 4 || a->n < 1)
        return "pixels >= 0, inputs a positive multiple of 4, outputs >= 1";
    if (a->k > 1 << 20 || a->n > 1 << 20 || (long long)a->m * (a->k > a->n ? a->k : a->n) > (1LL << 40))
        return "too large";
    return NULL;
}

#if DW_HAVE_KERNEL
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni")

typedef struct {
    __m512 scale, bias, lo, hi, qscale;
    __m512i start;
    __mmask16 m;
} pw_block;

static void pw_block_constants(const pw_args *a, int b, pw_block *r)
{
    int left = a->n - 16 * b;
    r->m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
    r->scale = _mm512_maskz_loadu_ps(r->m, a->scale + 16 * b);
    r->bias = _mm512_maskz_loadu_ps(r->m, a->bias + 16 * b);
    r->start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_maskz_loadu_epi32(r->m, a->corr + 16 * b));
    r->lo = _mm512_set1_ps(a->act_lo);
    r->hi = _mm512_set1_ps(a->act_hi);
    r->qscale = _mm512_set1_ps(a->qscale);
}

/* ncnn's x86 float2int8(v * s) as uint8 q + 128, 16 lanes (dw_quantize's arithmetic). */
static inline __attribute__((always_inline)) __m128i pw_quantize(__m512 v, __m512 s)
{
    __m512 t = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(v, s), _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    __m512 h = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(0.5f)),
                                                   _mm512_and_si512(_mm512_castps_si512(t),
                                                                    _mm512_set1_epi32((int)0x80000000u))));
    return _mm512_cvtusepi32_epi8(_mm512_add_epi32(_mm512_cvttps_epi32(_mm512_add_ps(t, h)), _mm512_set1_epi32(128)));
}

/* The 16 outputs of one accumulator, at output pixel `row`, channel block b. */
static inline __attribute__((always_inline)) void pw_store(const pw_args *a, size_t row, int b, __m512i acc,
                                                           const pw_block *r, int mode)
{
    __m512 f = _mm512_cvtepi32_ps(acc);
    __m512 v = a->fma ? _mm512_fmadd_ps(f, r->scale, r->bias) : _mm512_add_ps(_mm512_mul_ps(f, r->scale), r->bias);
    size_t at = row * a->n + 16 * (size_t)b;
    v = _mm512_min_ps(_mm512_max_ps(v, r->lo), r->hi);
    if (mode == PW_ADD_Q)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(r->m, a->r + at));
    _mm512_mask_storeu_ps(a->y + at, r->m, v);
    if (mode != PW_PLAIN)
        _mm_mask_storeu_epi8(a->q + at, r->m, pw_quantize(v, r->qscale));
}

#define PW_DPB(acc, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w))
#define PW_X(p) _mm512_set1_epi32(*(const int32_t *)(xr + (size_t)(p) * k + 4 * (size_t)t))

/* Pixels m0..m1-1, channel blocks b and b + 1 (b + 1 where `two`). */
static inline __attribute__((always_inline)) void pw_blocks(const pw_args *a, int m0, int m1, int b, int two,
                                                            int mode)
{
    pw_block r0, r1;
    pw_block_constants(a, b, &r0);
    pw_block_constants(a, two ? b + 1 : b, &r1);
    int k = a->k, k4 = k / 4, m = m0;
    const int8_t *w0 = a->w + (size_t)b * k4 * 64, *w1 = two ? w0 + (size_t)k4 * 64 : w0;
    for (; m + PW_TILE <= m1; m += PW_TILE) {
        __m512i a00 = r0.start, a01 = r1.start, a10 = r0.start, a11 = r1.start, a20 = r0.start, a21 = r1.start;
        __m512i a30 = r0.start, a31 = r1.start, a40 = r0.start, a41 = r1.start, a50 = r0.start, a51 = r1.start;
        const uint8_t *xr = a->x + (size_t)m * k;
        for (int t = 0; t < k4; t++) {
            __m512i wa = _mm512_loadu_si512(w0 + (size_t)t * 64), wb = _mm512_loadu_si512(w1 + (size_t)t * 64);
            __m512i x0 = PW_X(0), x1 = PW_X(1), x2 = PW_X(2);
            PW_DPB(a00, x0, wa); PW_DPB(a01, x0, wb);
            PW_DPB(a10, x1, wa); PW_DPB(a11, x1, wb);
            PW_DPB(a20, x2, wa); PW_DPB(a21, x2, wb);
            __m512i x3 = PW_X(3), x4 = PW_X(4), x5 = PW_X(5);
            PW_DPB(a30, x3, wa); PW_DPB(a31, x3, wb);
            PW_DPB(a40, x4, wa); PW_DPB(a41, x4, wb);
            PW_DPB(a50, x5, wa); PW_DPB(a51, x5, wb);
        }
#define PW_PAIR(p, s0, s1)                                  \
        do {                                                \
            pw_store(a, (size_t)m + (p), b, s0, &r0, mode); \
            if (two)                                        \
                pw_store(a, (size_t)m + (p), b + 1, s1, &r1, mode); \
        } while (0)
        PW_PAIR(0, a00, a01);
        PW_PAIR(1, a10, a11);
        PW_PAIR(2, a20, a21);
        PW_PAIR(3, a30, a31);
        PW_PAIR(4, a40, a41);
        PW_PAIR(5, a50, a51);
#undef PW_PAIR
    }
    for (; m < m1; m++) {                         /* the pixels after the last whole tile */
        __m512i s0 = r0.start, s1 = r1.start;
        const uint8_t *xr = a->x + (size_t)m * k;
        for (int t = 0; t < k4; t++) {
            __m512i x0 = PW_X(0);
            PW_DPB(s0, x0, _mm512_loadu_si512(w0 + (size_t)t * 64));
            PW_DPB(s1, x0, _mm512_loadu_si512(w1 + (size_t)t * 64));
        }
        pw_store(a, (size_t)m, b, s0, &r0, mode);
        if (two)
            pw_store(a, (size_t)m, b + 1, s1, &r1, mode);
    }
}

/* pw_blocks compiled for what the call's store does, so that its inner loop does not ask. */
static void pw_blocks_for(const pw_args *a, int m0, int m1, int b, int two)
{
    if (a->q == NULL)
        pw_blocks(a, m0, m1, b, two, PW_PLAIN);
    else if (a->r == NULL)
        pw_blocks(a, m0, m1, b, two, PW_Q);
    else
        pw_blocks(a, m0, m1, b, two, PW_ADD_Q);
}

#pragma GCC pop_options

#define PW_CHUNK (8 * PW_TILE)     /* pixels whose every output channel is done before the next ones */

/* Task `index` of `tasks`: a range of whole tiles of pixels, every output channel, in chunks of
 * PW_CHUNK pixels: each output row is written whole while it is in the cache (block after block
 * over all the pixels, a layer with 1.2 MB of output wrote each line three times). */
static void pw_run_task(const pw_args *a, size_t index, size_t tasks)
{
    size_t tiles = ((size_t)a->m + PW_TILE - 1) / PW_TILE;
    int m0 = (int)(index * tiles / tasks * PW_TILE), m1 = (int)((index + 1) * tiles / tasks * PW_TILE);
    if (m1 > a->m)
        m1 = a->m;
    int blocks = (a->n + 15) / 16;
    for (int c = m0; c < m1; c += PW_CHUNK) {
        int end = m1 - c < PW_CHUNK ? m1 : c + PW_CHUNK;
        for (int b = 0; b < blocks; b += 2)
            pw_blocks_for(a, c, end, b, b + 1 < blocks);
    }
}
#else
static void pw_run_task(const pw_args *a, size_t index, size_t tasks) { (void)a; (void)index; (void)tasks; }
#endif
