/* ncnnlike.quant._bins: ncnn2table's histogram step (spec 5.5 step 2) as one compiled pass.
 *
 * counts(values, width, counts) adds the bin index min(int(|v| / width), 2047) of every float32 of
 * `values` to the 2048 int64 `counts`, and returns how many values were exact zeros (they land in
 * bin 0; the caller takes them out, as ncnn skips them), or -1 for a nan, then adding nothing.
 * Bad arguments raise TypeError or ValueError.
 *
 * Why compiled: numpy needs five passes over the data (abs, zero count, divide, clamp, cast) and
 * OpenCV a sixth to count; here a chunk is indexed in one vectorisable loop while it sits in the
 * cache, then counted into four sub-histograms so that runs of equal bins do not serialise on
 * one counter. The division is IEEE float32 (no -ffast-math), so the bins are ncnn's exactly.
 * On x86-64 the index loop is cloned for AVX-512, AVX2 and baseline; the loader picks the one
 * this CPU runs. The GIL is released: calibration workers bin in parallel.
 */
#include "../_buffer.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NUM_BINS 2048
#define CHUNK 4096

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

/* Bin indices of one chunk into idx; returns the exact zeros, sets *nan when a value is nan. */
CLONES static Py_ssize_t index_chunk(const float *v, Py_ssize_t n, float width, uint16_t *idx, int *nan)
{
    Py_ssize_t zeros = 0;
    int bad = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        float a = fabsf(v[i]);
        float t = a / width;
        zeros += a == 0.0f;
        bad |= t != t;
        t = t < 2047.0f ? t : 2047.0f;      /* also maps nan to 2047: the caller raises anyway */
        idx[i] = (uint16_t)(int32_t)t;      /* truncation = floor: t >= 0 */
    }
    *nan |= bad;
    return zeros;
}

/* Counts of one chunk's indices into four sub-histograms. */
static void count_chunk(const uint16_t *idx, Py_ssize_t n, uint32_t sub[4][NUM_BINS])
{
    Py_ssize_t i = 0;
    for (; i + 4 <= n; i += 4) {
        sub[0][idx[i]]++;
        sub[1][idx[i + 1]]++;
        sub[2][idx[i + 2]]++;
        sub[3][idx[i + 3]]++;
    }
    for (; i < n; i++)
        sub[0][idx[i]]++;
}

/* Adds the bins of all n values to counts; returns the exact zeros, or -1 (adding nothing) on a nan. */
static Py_ssize_t bin_values(const float *v, Py_ssize_t n, float width, int64_t *counts)
{
    uint32_t sub[4][NUM_BINS];
    int64_t total[NUM_BINS] = {0};
    uint16_t idx[CHUNK];
    Py_ssize_t zeros = 0;
    int nan = 0;
    for (Py_ssize_t s = 0; s < n; s += (Py_ssize_t)CHUNK * 1024) {    /* < 2**32 values per counter */
        Py_ssize_t end = n - s < (Py_ssize_t)CHUNK * 1024 ? n : s + (Py_ssize_t)CHUNK * 1024;
        memset(sub, 0, sizeof sub);
        for (Py_ssize_t c = s; c < end; c += CHUNK) {
            Py_ssize_t m = end - c < CHUNK ? end - c : CHUNK;
            zeros += index_chunk(v + c, m, width, idx, &nan);
            if (nan)
                return -1;
            count_chunk(idx, m, sub);
        }
        for (int b = 0; b < NUM_BINS; b++)
            total[b] += (int64_t)sub[0][b] + sub[1][b] + sub[2][b] + sub[3][b];
    }
    for (int b = 0; b < NUM_BINS; b++)
        counts[b] += total[b];
    return zeros;
}

static PyObject *counts(PyObject *self, PyObject *args)
{
    PyObject *values_obj, *counts_obj;
    float width;
    Py_buffer values, hist;
    (void)self;
    if (!PyArg_ParseTuple(args, "OfO", &values_obj, &width, &counts_obj))
        return NULL;
    if (!(width > 0.0f) || isinf(width)) {
        PyErr_SetString(PyExc_ValueError, "width must be a positive finite float32");
        return NULL;
    }
    if (get_buffer(values_obj, &values, 0, "f", 4, -1, "values") < 0)
        return NULL;
    if (get_buffer(counts_obj, &hist, 1, "lq", 8, -1, "counts") < 0) {
        PyBuffer_Release(&values);
        return NULL;
    }
    if (hist.len != NUM_BINS * 8) {
        PyErr_SetString(PyExc_ValueError, "counts must hold 2048 int64");
        PyBuffer_Release(&values);
        PyBuffer_Release(&hist);
        return NULL;
    }
    Py_ssize_t zeros;
    Py_BEGIN_ALLOW_THREADS
    zeros = bin_values((const float *)values.buf, values.len / 4, width, (int64_t *)hist.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&values);
    PyBuffer_Release(&hist);
    return PyLong_FromSsize_t(zeros);      /* -1: a nan */
}

static PyMethodDef methods[] = {
    {"counts", counts, METH_VARARGS,
     "counts(values, width, counts) -> zeros, or -1 for a nan: add the ncnn bin of every float32 value to 2048 int64 counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bins", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__bins(void)
{
    return PyModule_Create(&module);
}
