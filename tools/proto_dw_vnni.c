/* Prototype int8 depthwise kernel with AVX512-VNNI: a measurement aid, not package code
 * (tools/proto_dw_cvnni.py compiles it with the system's gcc, loads it by ctypes and measures it).
 *
 * The same layer and arithmetic as tools/proto_dw_numba.py (ncnn's int8 depthwise, NHWC, uint8 q+128
 * in and out): taps outside the input read q = 0 (byte 128), then per output
 *     s = sum over taps of q_in * w                      (int32, exact)
 *     v = float(s) * scale_in[c] + bias[c]; v = min(max(v, act_lo), act_hi)
 *     q = clamp(trunc(v * s_top + copysign(0.5, .)), -127, 127), stored as q + 128
 * in float32, multiply then add (no fused multiply-add), as ncnn's x86 kernel does.
 *
 * How: vpdpbusd multiplies 4 unsigned bytes by 4 signed bytes and adds the 4 products to an int32
 * lane. Depthwise has no sum over channels, so each tap's 64 channels (one 64-byte load of the
 * padded input, as q + 128) go into 4 vpdpbusd, each with that tap's weights of one channel of every
 * group of 4 (the other 3 bytes zero): accumulator j, lane i holds channel 4i + j. 16 useful
 * multiply-adds an instruction, no shuffles. The q + 128 offset comes out as 128 * sum(w) per
 * channel. After requantizing, the 4 accumulators are bytes 0..3 of each lane: shifts and ors give
 * the 64 channels in order, one store. A channel block of fewer than 64 uses masked loads and store.
 * Two output pixels of a row are computed together, so each tap's 4 weight vectors are loaded once.
 *
 * That is the first scheme (dw_direct: border pixels one at a time); the second (dw_vbmi, below)
 * interleaves taps.
 *
 * Compile-time switches (PROTO_DW_FLAGS): -DNO_REQUANT (the multiply-adds alone: the accumulators are
 * stored unrequantized, for timing only), -DONLY_BLOCK (second scheme: only the input blocking).
 */
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Per channel block b (64 channels), per tap k, per j: 64 weight bytes, channel 4i + j at byte 4i + j
 * of lane i, zeros elsewhere. wq: int8 (taps, c). Also corr[c] = 128 * sum_k w[k][c] (int32),
 * and the per-channel floats spread to the accumulators' order: lane i of vector j = channel 4i + j. */
void pack_weights(const int8_t *wq, int taps, int c, int8_t *packed, int32_t *corr, const float *scale,
                  const float *bias, float *scale_acc, float *bias_acc, int32_t *corr_acc)
{
    int blocks = (c + 63) / 64;
    memset(packed, 0, (size_t)blocks * taps * 4 * 64);
    for (int ch = 0; ch < c; ch++) {
        int32_t sum = 0;
        for (int k = 0; k < taps; k++)
            sum += wq[k * c + ch];
        corr[ch] = 128 * sum;
    }
    for (int b = 0; b < blocks; b++)
        for (int k = 0; k < taps; k++)
            for (int t = 0; t < 64 && b * 64 + t < c; t++) {
                int j = t & 3;
                packed[(((size_t)b * taps + k) * 4 + j) * 64 + t] = wq[k * c + b * 64 + t];
            }
    for (int b = 0; b < blocks; b++)
        for (int j = 0; j < 4; j++)
            for (int i = 0; i < 16; i++) {
                int ch = b * 64 + 4 * i + j;
                size_t at = ((size_t)b * 4 + j) * 16 + i;
                scale_acc[at] = ch < c ? scale[ch] : 0.0f;
                bias_acc[at] = ch < c ? bias[ch] : 0.0f;
                corr_acc[at] = ch < c ? corr[ch] : 0;
            }
}

/* q + 128 of 16 accumulators (lane i: channel 4i + j), the 128 * sum(w) offset already taken out. */
static inline __m512i requant(__m512i acc, __m512 scale, __m512 bias, __m512 lo, __m512 hi, __m512 s_top,
                              int positive)
{
    __m512 v = _mm512_cvtepi32_ps(acc);
    v = _mm512_add_ps(_mm512_mul_ps(v, scale), bias);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    __m512 t = _mm512_mul_ps(v, s_top);
    __m512 half = _mm512_set1_ps(0.5f);
    if (!positive)      /* copysign(0.5, t); after a ReLU or ReLU6 t >= 0 and it is +0.5 */
        half = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(half),
                                                   _mm512_and_si512(_mm512_castps_si512(t),
                                                                    _mm512_set1_epi32((int)0x80000000u))));
    __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(t, half));
    q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
    return _mm512_add_epi32(q, _mm512_set1_epi32(128));
}

/* 4 accumulators of one pixel, its 64 channels requantized and stored in order. */
static inline __attribute__((always_inline)) void store_pixel(__m512i a0, __m512i a1, __m512i a2, __m512i a3,
                                                              const __m512 *sc, const __m512 *bi, __m512 lo,
                                                              __m512 hi, __m512 st, int positive, __mmask64 m,
                                                              uint8_t *out)
{
#ifdef NO_REQUANT
    (void)sc; (void)bi; (void)lo; (void)hi; (void)st; (void)positive;
    _mm512_mask_storeu_epi8(out, m, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
#else
    __m512i r = requant(a0, sc[0], bi[0], lo, hi, st, positive);
    r = _mm512_or_si512(r, _mm512_slli_epi32(requant(a1, sc[1], bi[1], lo, hi, st, positive), 8));
    r = _mm512_or_si512(r, _mm512_slli_epi32(requant(a2, sc[2], bi[2], lo, hi, st, positive), 16));
    r = _mm512_or_si512(r, _mm512_slli_epi32(requant(a3, sc[3], bi[3], lo, hi, st, positive), 24));
    _mm512_mask_storeu_epi8(out, m, r);
#endif
}

/* acc += the 4-byte dot products of u8 x and s8 w, in place: gcc's intrinsic lets the result land in
 * another register, and in these loops it then moves every accumulator back on every tap. */
#define DPBUSD(acc, x, w) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w))

/* One tap of one pixel: its 64 channels into the pixel's 4 accumulators. */
#define TAP(v, p)                  \
    do {                           \
        DPBUSD(p##0, v, w0);       \
        DPBUSD(p##1, v, w1);       \
        DPBUSD(p##2, v, w2);       \
        DPBUSD(p##3, v, w3);       \
    } while (0)

/* Two output pixels of a row (`step` bytes apart in the input) in one channel block: each tap's 4
 * weight vectors loaded once for both. Named accumulators (no arrays) keep gcc from moving them
 * between registers on every tap. */
static inline __attribute__((always_inline)) void two_pixels(const uint8_t *base, size_t step, int c, int wp,
                                                             int kh, int kw, const int8_t *wb, __mmask64 m,
                                                             const __m512i *nc, const __m512 *sc, const __m512 *bi,
                                                             __m512 lo, __m512 hi, __m512 st, int positive,
                                                             uint8_t *out)
{
    __m512i a0 = nc[0], a1 = nc[1], a2 = nc[2], a3 = nc[3];
    __m512i b0 = nc[0], b1 = nc[1], b2 = nc[2], b3 = nc[3];
    #pragma GCC unroll 5
    for (int ky = 0; ky < kh; ky++) {
        const uint8_t *row = base + (size_t)ky * wp * c;
        const int8_t *wk = wb + (size_t)ky * kw * 256;
        #pragma GCC unroll 5
        for (int kx = 0; kx < kw; kx++, wk += 256) {
            __m512i w0 = _mm512_loadu_si512(wk), w1 = _mm512_loadu_si512(wk + 64);
            __m512i w2 = _mm512_loadu_si512(wk + 128), w3 = _mm512_loadu_si512(wk + 192);
            __m512i va = _mm512_maskz_loadu_epi8(m, row + (size_t)kx * c);
            __m512i vb = _mm512_maskz_loadu_epi8(m, row + (size_t)kx * c + step);
            TAP(va, a);
            TAP(vb, b);
        }
    }
    store_pixel(a0, a1, a2, a3, sc, bi, lo, hi, st, positive, m, out);
    store_pixel(b0, b1, b2, b3, sc, bi, lo, hi, st, positive, m, out + c);
}

/* Channel block b's mask (its channels among 64) and per-accumulator scales, biases and negated
 * 128 * sum(w) offsets (the accumulators' starting values). */
static __mmask64 block_constants(int b, int c, const float *scale_acc, const float *bias_acc,
                                 const int32_t *corr_acc, __m512 *sc, __m512 *bi, __m512i *nc)
{
    int n = c - b * 64 < 64 ? c - b * 64 : 64;
    for (int j = 0; j < 4; j++) {
        sc[j] = _mm512_loadu_ps(scale_acc + ((size_t)b * 4 + j) * 16);
        bi[j] = _mm512_loadu_ps(bias_acc + ((size_t)b * 4 + j) * 16);
        nc[j] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_loadu_si512(corr_acc + ((size_t)b * 4 + j) * 16));
    }
    return n == 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
}

/* One output pixel on the border: taps outside the input read q = 0 (the byte 128) instead. */
static void border_pixel(const uint8_t *x, int h, int w, int c, int iy0, int ix0, int kh, int kw,
                         const int8_t *wb, __mmask64 m, const __m512i *nc, const __m512 *sc, const __m512 *bi,
                         __m512 lo, __m512 hi, __m512 st, int positive, uint8_t *out)
{
    __m512i a0 = nc[0], a1 = nc[1], a2 = nc[2], a3 = nc[3], pad = _mm512_set1_epi8((char)128);
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const int8_t *wk = wb + (size_t)(ky * kw + kx) * 256;
            __m512i w0 = _mm512_loadu_si512(wk), w1 = _mm512_loadu_si512(wk + 64);
            __m512i w2 = _mm512_loadu_si512(wk + 128), w3 = _mm512_loadu_si512(wk + 192);
            int iy = iy0 + ky, ix = ix0 + kx;
            __m512i va = iy >= 0 && iy < h && ix >= 0 && ix < w
                         ? _mm512_maskz_loadu_epi8(m, x + ((size_t)iy * w + ix) * c) : pad;
            TAP(va, a);
        }
    store_pixel(a0, a1, a2, a3, sc, bi, lo, hi, st, positive, m, out);
}

/* The kernel on the unpadded input x (h, w, c), pads pt (top) and pl (left): interior pixels two at
 * a time straight from x, border pixels one at a time (no padded copy of the input). */
static void dw_direct_body(const uint8_t *x, int h, int w, int c, int pt, int pl, const int8_t *packed,
                           const float *scale_acc, const float *bias_acc, const int32_t *corr_acc, float act_lo,
                           float act_hi, float s_top, int kh, int kw, int sh, int sw, uint8_t *out, int oh, int ow)
{
    int taps = kh * kw, blocks = (c + 63) / 64, positive = act_lo >= 0.0f;
    __m512 lo = _mm512_set1_ps(act_lo), hi = _mm512_set1_ps(act_hi), st = _mm512_set1_ps(s_top);
    for (int b = 0; b < blocks; b++) {
        const int8_t *wb = packed + (size_t)b * taps * 4 * 64;
        __m512 sc[4], bi[4];
        __m512i nc[4];
        __mmask64 m = block_constants(b, c, scale_acc, bias_acc, corr_acc, sc, bi, nc);
        for (int oy = 0; oy < oh; oy++) {
            int iy0 = oy * sh - pt, row_inside = iy0 >= 0 && iy0 + kh <= h;
            for (int ox = 0; ox < ow;) {
                int ix0 = ox * sw - pl;
                uint8_t *o = out + ((size_t)oy * ow + ox) * c + b * 64;
                if (row_inside && ox + 1 < ow && ix0 >= 0 && ix0 + sw + kw <= w) {
                    const uint8_t *at = x + ((size_t)iy0 * w + ix0) * c + b * 64;
                    if (kh == 3 && kw == 3)     /* the taps unrolled: no loop exits to mispredict */
                        two_pixels(at, (size_t)sw * c, c, w, 3, 3, wb, m, nc, sc, bi, lo, hi, st, positive, o);
                    else if (kh == 5 && kw == 5)
                        two_pixels(at, (size_t)sw * c, c, w, 5, 5, wb, m, nc, sc, bi, lo, hi, st, positive, o);
                    else
                        two_pixels(at, (size_t)sw * c, c, w, kh, kw, wb, m, nc, sc, bi, lo, hi, st, positive, o);
                    ox += 2;
                } else {
                    border_pixel(x + b * 64, h, w, c, iy0, ix0, kh, kw, wb, m, nc, sc, bi, lo, hi, st, positive, o);
                    ox += 1;
                }
            }
        }
    }
}

/* CPU time of the last dw_direct or dw_vbmi call inside C, in ns: what an in-graph kernel would
 * cost (the ctypes call around it is not part of it). */
long long last_ns;

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

void dw_direct(const uint8_t *x, int h, int w, int c, int pt, int pl, const int8_t *packed, const float *scale_acc,
               const float *bias_acc, const int32_t *corr_acc, float act_lo, float act_hi, float s_top, int kh,
               int kw, int sh, int sw, uint8_t *out, int oh, int ow)
{
    long long t0 = now_ns();
    dw_direct_body(x, h, w, c, pt, pl, packed, scale_acc, bias_acc, corr_acc, act_lo, act_hi, s_top, kh, kw, sh, sw,
                   out, oh, ow);
    last_ns = now_ns() - t0;
}

/* The CPU's vpdpbusd rate: `iters` x 12 independent zmm vpdpbusd (returns how many it ran). */
long long peak_dpbusd(long long iters, int *sink)
{
    __m512i a[12], x = _mm512_set1_epi32(0x01020304), y = _mm512_set1_epi32(0x01010101);
    for (int k = 0; k < 12; k++)
        a[k] = _mm512_set1_epi32(k);
    for (long long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+v"(x));
#pragma GCC unroll 12
        for (int k = 0; k < 12; k++)
            a[k] = _mm512_dpbusd_epi32(a[k], x, y);
    }
    __m512i s = a[0];
    for (int k = 1; k < 12; k++)
        s = _mm512_add_epi32(s, a[k]);
    *sink = _mm512_reduce_add_epi32(s);
    return iters * 12;
}

/* ---- Second scheme (dw_vbmi): taps interleaved into the lanes' four bytes, with AVX512-VBMI ----
 *
 * The input is first copied into a channel-blocked padded buffer: plane (row, group g of 16
 * channels) holds, for every padded column x, its 16 channels as 16 contiguous bytes (pad byte 128,
 * q = 0). One 64-byte load at column x then holds columns x..x+3 of 16 channels, and one vpermb
 * turns it into lanes = channels, bytes = those 4 columns: a vpdpbusd against the weights of 4
 * horizontal taps (the 4th zero for a 3-wide kernel) adds 3 or 4 useful products a lane, where the
 * first scheme adds 1. A group's weights stay in registers for the whole layer. */

#define MAX_QK 16    /* weight vectors of one channel group: kh * ceil(kw / 4), at most 16 (4x4..5x5 is 10) */

/* Weights of channel group g, row ky, quad q (taps 4q..4q+3 of the row): lane i, byte k holds
 * w[ky][4q + k][16g + i], 0 beyond the kernel or the channels. wq: int8 (taps, c). */
void pack_vbmi(const int8_t *wq, int kh, int kw, int c, int8_t *packed)
{
    int groups = (c + 15) / 16, nq = (kw + 3) / 4;
    memset(packed, 0, (size_t)groups * kh * nq * 64);
    for (int g = 0; g < groups; g++)
        for (int ky = 0; ky < kh; ky++)
            for (int q = 0; q < nq; q++)
                for (int i = 0; i < 16 && 16 * g + i < c; i++)
                    for (int k = 0; k < 4 && 4 * q + k < kw; k++)
                        packed[(((size_t)g * kh + ky) * nq + q) * 64 + 4 * i + k] = wq[(ky * kw + 4 * q + k) * c + 16 * g + i];
}

/* Padded row yp of the channel-blocked copy into `dst` (groups planes of wb columns of 16 bytes):
 * input row yp - pt, pad byte 128 (q = 0) outside the input and in a partial last group. */
static void fill_row(const uint8_t *x, int h, int w, int c, int pt, int pl, int yp, uint8_t *dst, int wb)
{
    int groups = (c + 15) / 16, full = c / 16, y = yp - pt;
    size_t plane = (size_t)wb * 16;
    if (y < 0 || y >= h) {
        memset(dst, 128, groups * plane);
        return;
    }
    const uint8_t *src_row = x + (size_t)y * w * c;
    for (int g = 0; g < groups; g++) {
        uint8_t *row = dst + g * plane;
        memset(row, 128, (size_t)pl * 16);
        memset(row + (size_t)(pl + w) * 16, 128, (size_t)(wb - pl - w) * 16);
        if (g == full)                       /* a partial last group: its missing channels read q = 0 */
            memset(row + (size_t)pl * 16, 128, (size_t)w * 16);
    }
    int quads = full / 4;
    uint8_t *base = dst + (size_t)pl * 16;
    for (int xx = 0; xx < w; xx++) {         /* one 64-byte load a pixel and 4 groups, 4 16-byte stores */
        const uint8_t *src = src_row + (size_t)xx * c;
        uint8_t *col = base + (size_t)xx * 16;
        int g = 0;
        for (int q4 = 0; q4 < quads; q4++, g += 4) {
            __m512i v = _mm512_loadu_si512(src + 16 * g);
            _mm_storeu_si128((__m128i *)(col + g * plane), _mm512_castsi512_si128(v));
            _mm_storeu_si128((__m128i *)(col + (g + 1) * plane), _mm512_extracti32x4_epi32(v, 1));
            _mm_storeu_si128((__m128i *)(col + (g + 2) * plane), _mm512_extracti32x4_epi32(v, 2));
            _mm_storeu_si128((__m128i *)(col + (g + 3) * plane), _mm512_extracti32x4_epi32(v, 3));
        }
        for (; g < full; g++)
            _mm_storeu_si128((__m128i *)(col + g * plane), _mm_loadu_si128((const __m128i *)(src + 16 * g)));
        if (full < groups)
            memcpy(col + full * plane, src + 16 * full, (size_t)(c - 16 * full));
    }
}

/* q + 128 of 16 channels in natural order (the 128 * sum(w) offset already taken out). */
/* positive == 2: act_lo >= 0 and act_hi already lowered to the largest v with q <= 127 (the caller
 * found it exactly), so the +-127 clamp cannot act and is left out. */
static inline __m512i requant16(__m512i acc, __m512 scale, __m512 bias, __m512 lo, __m512 hi, __m512 s_top,
                                int positive)
{
    if (positive != 2)
        return requant(acc, scale, bias, lo, hi, s_top, positive);
    __m512 v = _mm512_cvtepi32_ps(acc);
    v = _mm512_add_ps(_mm512_mul_ps(v, scale), bias);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    __m512i q = _mm512_cvttps_epi32(_mm512_add_ps(_mm512_mul_ps(v, s_top), _mm512_set1_ps(0.5f)));
    return _mm512_add_epi32(q, _mm512_set1_epi32(128));
}

/* One output row of one channel group. */
static inline __attribute__((always_inline)) void vbmi_row(const uint8_t *const *rows, size_t at, int sw, int c,
                                                           int ow, const int kh, const int nq, const __m512i *wv,
                                                           __m512i perm, __m512i nc, __m512 sc, __m512 bi,
                                                           __m512 lo, __m512 hi, __m512 st, int positive,
                                                           __mmask16 m, uint8_t *o)
{
    for (int ox = 0; ox < ow; ox++) {
        __m512i acc = nc;
        size_t col = at + (size_t)ox * sw * 16;
#pragma GCC unroll 5
        for (int ky = 0; ky < kh; ky++)
#pragma GCC unroll 2
            for (int q = 0; q < nq; q++) {
                __m512i v = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col + 64 * q));
                DPBUSD(acc, v, wv[ky * nq + q]);
            }
#ifdef NO_REQUANT
        (void)sc; (void)bi; (void)lo; (void)hi; (void)st; (void)positive;
        _mm512_mask_cvtusepi32_storeu_epi8(o + (size_t)ox * c, m, acc);
#else
        _mm512_mask_cvtusepi32_storeu_epi8(o + (size_t)ox * c, m, requant16(acc, sc, bi, lo, hi, st, positive));
#endif
    }
}

/* The layer: output row after output row, the kh padded input rows it reads kept channel-blocked in
 * a ring of kh rows (ring: kh * groups * wb * 16 bytes: cache-sized), each input row blocked once. */
static void dw_vbmi_body(const uint8_t *x, int h, int w, int c, int pt, int pl, const int8_t *packed,
                         const float *scale, const float *bias, const int32_t *corr, float act_lo, float act_hi,
                         float s_top, int kh, int kw, int sh, int sw, uint8_t *out, int oh, int ow, uint8_t *ring,
                         int wb, int bounded, const int8_t *packed4);

/* acc += u8 x times s8 weights read from memory (L1), in place. */
#define DPBUSD_M(acc, x, mem) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "m"(*(const __m512i *)(mem)))

/* Four output pixels ox..ox+3 of one row and channel group, stride 1, kw <= 5: their taps span
 * columns ox..ox+7, two 64-byte windows a kernel row shared by all four (one load and one vpermb
 * each, where one pixel at a time takes 2 per pixel for a 5-wide kernel). w4: per kernel row, per
 * pixel k, per window, the weights shifted to the pixel's columns (zero where no tap falls). */
static inline __attribute__((always_inline)) void vbmi_four(const uint8_t *const *rows, size_t col, int c,
                                                            const int kh, const int kw, const int8_t *w4,
                                                            __m512i perm, __m512i nc, __m512 sc, __m512 bi,
                                                            __m512 lo, __m512 hi, __m512 st, int positive,
                                                            __mmask16 m, uint8_t *o)
{
    __m512i a0 = nc, a1 = nc, a2 = nc, a3 = nc;
#pragma GCC unroll 5
    for (int ky = 0; ky < kh; ky++) {
        __m512i A = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col));
        __m512i B = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col + 64));
        const int8_t *wk = w4 + (size_t)ky * 8 * 64;      /* [pixel k][window] */
        DPBUSD_M(a0, A, wk);
        DPBUSD_M(a1, A, wk + 2 * 64);
        DPBUSD_M(a2, A, wk + 4 * 64);
        DPBUSD_M(a3, A, wk + 6 * 64);
        if (kw > 3) {                                      /* pixels 0, 1 reach the second window only then */
            DPBUSD_M(a0, B, wk + 1 * 64);
            DPBUSD_M(a1, B, wk + 3 * 64);
        }
        DPBUSD_M(a2, B, wk + 5 * 64);
        DPBUSD_M(a3, B, wk + 7 * 64);
    }
    _mm512_mask_cvtusepi32_storeu_epi8(o, m, requant16(a0, sc, bi, lo, hi, st, positive));
    _mm512_mask_cvtusepi32_storeu_epi8(o + c, m, requant16(a1, sc, bi, lo, hi, st, positive));
    _mm512_mask_cvtusepi32_storeu_epi8(o + 2 * c, m, requant16(a2, sc, bi, lo, hi, st, positive));
    _mm512_mask_cvtusepi32_storeu_epi8(o + 3 * c, m, requant16(a3, sc, bi, lo, hi, st, positive));
}

/* A row of a 3x3 stride-1 layer, four pixels a step (ow - ow % 4 of them), like vbmi_four but with
 * the 18 weight vectors that are not zero held in registers for the whole row. */
static inline __attribute__((always_inline)) void vbmi_row_four3(const uint8_t *const *rows, size_t at, int c,
                                                                 int count, const int8_t *w4, __m512i perm,
                                                                 __m512i nc, __m512 sc, __m512 bi, __m512 lo,
                                                                 __m512 hi, __m512 st, int positive, __mmask16 m,
                                                                 uint8_t *o)
{
    __m512i w[3][6];        /* per row: pixel 0 A, 1 A, 2 A, 2 B, 3 A, 3 B */
    for (int ky = 0; ky < 3; ky++) {
        const int8_t *wk = w4 + (size_t)ky * 8 * 64;
        w[ky][0] = _mm512_loadu_si512(wk);
        w[ky][1] = _mm512_loadu_si512(wk + 2 * 64);
        w[ky][2] = _mm512_loadu_si512(wk + 4 * 64);
        w[ky][3] = _mm512_loadu_si512(wk + 5 * 64);
        w[ky][4] = _mm512_loadu_si512(wk + 6 * 64);
        w[ky][5] = _mm512_loadu_si512(wk + 7 * 64);
    }
    for (int ox = 0; ox + 4 <= count; ox += 4) {
        __m512i a0 = nc, a1 = nc, a2 = nc, a3 = nc;
        size_t col = at + (size_t)ox * 16;
#pragma GCC unroll 3
        for (int ky = 0; ky < 3; ky++) {
            __m512i A = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col));
            __m512i B = _mm512_permutexvar_epi8(perm, _mm512_loadu_si512(rows[ky] + col + 64));
            DPBUSD(a0, A, w[ky][0]);
            DPBUSD(a1, A, w[ky][1]);
            DPBUSD(a2, A, w[ky][2]);
            DPBUSD(a2, B, w[ky][3]);
            DPBUSD(a3, A, w[ky][4]);
            DPBUSD(a3, B, w[ky][5]);
        }
        uint8_t *p = o + (size_t)ox * c;
        _mm512_mask_cvtusepi32_storeu_epi8(p, m, requant16(a0, sc, bi, lo, hi, st, positive));
        _mm512_mask_cvtusepi32_storeu_epi8(p + c, m, requant16(a1, sc, bi, lo, hi, st, positive));
        _mm512_mask_cvtusepi32_storeu_epi8(p + 2 * c, m, requant16(a2, sc, bi, lo, hi, st, positive));
        _mm512_mask_cvtusepi32_storeu_epi8(p + 3 * c, m, requant16(a3, sc, bi, lo, hi, st, positive));
    }
}

/* Weights for vbmi_four: group g, row ky, pixel k, window h, lane i, byte b = w[ky][4h + b - k][16g + i]
 * where that tap exists, else 0. */
void pack_four(const int8_t *wq, int kh, int kw, int c, int8_t *packed)
{
    int groups = (c + 15) / 16;
    memset(packed, 0, (size_t)groups * kh * 8 * 64);
    for (int g = 0; g < groups; g++)
        for (int ky = 0; ky < kh; ky++)
            for (int k = 0; k < 4; k++)
                for (int hw = 0; hw < 2; hw++)
                    for (int i = 0; i < 16 && 16 * g + i < c; i++)
                        for (int b = 0; b < 4; b++) {
                            int kx = 4 * hw + b - k;
                            if (kx >= 0 && kx < kw)
                                packed[((((size_t)g * kh + ky) * 4 + k) * 2 + hw) * 64 + 4 * i + b] =
                                    wq[(ky * kw + kx) * c + 16 * g + i];
                        }
}

void dw_vbmi(const uint8_t *x, int h, int w, int c, int pt, int pl, const int8_t *packed, const float *scale,
             const float *bias, const int32_t *corr, float act_lo, float act_hi, float s_top, int kh, int kw,
             int sh, int sw, uint8_t *out, int oh, int ow, uint8_t *ring, int wb, int bounded,
             const int8_t *packed4)
{
    long long t0 = now_ns();
    dw_vbmi_body(x, h, w, c, pt, pl, packed, scale, bias, corr, act_lo, act_hi, s_top, kh, kw, sh, sw, out, oh, ow,
                 ring, wb, bounded, packed4);
    last_ns = now_ns() - t0;
}

static void dw_vbmi_body(const uint8_t *x, int h, int w, int c, int pt, int pl, const int8_t *packed,
                         const float *scale, const float *bias, const int32_t *corr, float act_lo, float act_hi,
                         float s_top, int kh, int kw, int sh, int sw, uint8_t *out, int oh, int ow, uint8_t *ring,
                         int wb, int bounded, const int8_t *packed4)
{
    int groups = (c + 15) / 16, nq = (kw + 3) / 4, positive = act_lo >= 0.0f ? 1 + bounded : 0;
    size_t row_bytes = (size_t)groups * wb * 16;
    int held[32];                            /* padded row held by each ring slot (kh <= 32) */
    for (int k = 0; k < kh; k++)
        held[k] = -1;
    __m512 lo = _mm512_set1_ps(act_lo), hi = _mm512_set1_ps(act_hi), st = _mm512_set1_ps(s_top);
    uint8_t idx[64];
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 4; k++)
            idx[4 * i + k] = (uint8_t)(16 * k + i);
    __m512i perm = _mm512_loadu_si512(idx);
    for (int oy = 0; oy < oh; oy++) {
        const uint8_t *rows[32];
        for (int ky = 0; ky < kh; ky++) {
            int yp = oy * sh + ky, slot = yp % kh;
            if (held[slot] != yp) {
                fill_row(x, h, w, c, pt, pl, yp, ring + slot * row_bytes, wb);
                held[slot] = yp;
            }
            rows[ky] = ring + slot * row_bytes;
        }
#ifdef ONLY_BLOCK
        continue;
#endif
        for (int g = 0; g < groups; g++) {
            int n = c - 16 * g < 16 ? c - 16 * g : 16;
            __mmask16 m = (__mmask16)((1u << n) - 1);
            __m512i wv[MAX_QK];
            for (int k = 0; k < kh * nq; k++)
                wv[k] = _mm512_loadu_si512(packed + ((size_t)g * kh * nq + k) * 64);
            __m512 sc = _mm512_maskz_loadu_ps(m, scale + 16 * g), bi = _mm512_maskz_loadu_ps(m, bias + 16 * g);
            __m512i nc = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_maskz_loadu_epi32(m, corr + 16 * g));
            size_t at = (size_t)g * wb * 16;
            uint8_t *o = out + (size_t)oy * ow * c + 16 * g;
            if (packed4 != NULL && sw == 1 && kw <= 5) {      /* four pixels a step, then the rest */
                const int8_t *w4 = packed4 + (size_t)g * kh * 8 * 64;
                int ox = 0;
                if (kh == 3 && kw == 3) {
                    vbmi_row_four3(rows, at, c, ow, w4, perm, nc, sc, bi, lo, hi, st, positive, m, o);
                    ox = ow - ow % 4;
                }
                for (; ox + 4 <= ow; ox += 4) {     /* 3x3 went through vbmi_row_four3 above */
                    if (kh == 5 && kw == 5)
                        vbmi_four(rows, at + (size_t)ox * 16, c, 5, 5, w4, perm, nc, sc, bi, lo, hi, st, positive,
                                  m, o + (size_t)ox * c);
                    else
                        vbmi_four(rows, at + (size_t)ox * 16, c, kh, kw, w4, perm, nc, sc, bi, lo, hi, st,
                                  positive, m, o + (size_t)ox * c);
                }
                if (ox < ow)
                    vbmi_row(rows, at + (size_t)ox * 16, sw, c, ow - ox, kh, nq, wv, perm, nc, sc, bi, lo, hi, st,
                             positive, m, o + (size_t)ox * c);
                continue;
            }
            if (kh == 3 && nq == 1)          /* the taps unrolled: no loop exits to mispredict */
                vbmi_row(rows, at, sw, c, ow, 3, 1, wv, perm, nc, sc, bi, lo, hi, st, positive, m, o);
            else if (kh == 5 && nq == 2)
                vbmi_row(rows, at, sw, c, ow, 5, 2, wv, perm, nc, sc, bi, lo, hi, st, positive, m, o);
            else
                vbmi_row(rows, at, sw, c, ow, kh, nq, wv, perm, nc, sc, bi, lo, hi, st, positive, m, o);
        }
    }
}
