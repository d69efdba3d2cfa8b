/* ncnn2table's histogram step (spec 5.5 step 2) over a float32 array: the bin of each value is
 * min(int(|v| / divisor * scale), 2047) in IEEE float32 (no -ffast-math), so the bins are ncnn's
 * exactly. Two callers: quant/_bins.c (divisor = absmax / 2048 where that is exact, scale 1: the
 * same bits as |v| / absmax * 2048) and the onnxruntime op ncnnlike.Histogram of
 * layers/_dw_vnni.c (divisor = absmax, scale 2048), which bins a blob inside the graph that made it.
 *
 * A chunk is indexed in one vectorisable loop while it sits in the cache, then counted into four
 * sub-histograms so that runs of equal bins do not serialise on one counter. On x86-64 the index
 * loop is cloned for AVX-512, AVX2 and baseline; the loader picks the one this CPU runs. */
#ifndef NCNNLIKE_BINS_KERNEL_H
#define NCNNLIKE_BINS_KERNEL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define NUM_BINS 2048
#define BINS_CHUNK 4096

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define BINS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BINS_CLONES
#endif

/* Bin indices of one chunk into idx; returns the exact zeros, sets *nan when a value is nan. */
BINS_CLONES static int64_t bins_index_chunk(const float *v, size_t n, float divisor, float scale, uint16_t *idx,
                                            int *nan)
{
    int64_t zeros = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(v[i]);
        float t = a / divisor * scale;
        zeros += a == 0.0f;
        bad |= t != t;
        t = t < 2047.0f ? t : 2047.0f;      /* also maps nan to 2047: the caller refuses it anyway */
        idx[i] = (uint16_t)(int32_t)t;      /* truncation = floor: t >= 0 */
    }
    *nan |= bad;
    return zeros;
}

/* Counts of one chunk's indices into four sub-histograms. */
static void bins_count_chunk(const uint16_t *idx, size_t n, uint32_t sub[4][NUM_BINS])
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        sub[0][idx[i]]++;
        sub[1][idx[i + 1]]++;
        sub[2][idx[i + 2]]++;
        sub[3][idx[i + 3]]++;
    }
    for (; i < n; i++)
        sub[0][idx[i]]++;
}

/* Adds the bins of all n values to counts (exact zeros in bin 0); returns the exact zeros, or -1
 * (adding nothing) on a nan. */
static int64_t bins_add(const float *v, size_t n, float divisor, float scale, int64_t *counts)
{
    uint32_t sub[4][NUM_BINS];
    int64_t total[NUM_BINS] = {0};
    uint16_t idx[BINS_CHUNK];
    const size_t span = (size_t)BINS_CHUNK * 1024;     /* < 2**32 values per counter */
    int64_t zeros = 0;
    int nan = 0;
    for (size_t s = 0; s < n; s += span) {
        size_t end = n - s < span ? n : s + span;
        memset(sub, 0, sizeof sub);
        for (size_t c = s; c < end; c += BINS_CHUNK) {
            size_t m = end - c < BINS_CHUNK ? end - c : BINS_CHUNK;
            zeros += bins_index_chunk(v + c, m, divisor, scale, idx, &nan);
            if (nan)
                return -1;
            bins_count_chunk(idx, m, sub);
        }
        for (int b = 0; b < NUM_BINS; b++)
            total[b] += (int64_t)sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
    }
    for (int b = 0; b < NUM_BINS; b++)
        counts[b] += total[b];
    return zeros;
}

#endif
