/* ncnnlike.quant._resize: the two integer passes of ncnn's bilinear resize (resize.py), compiled.
 *
 * bilinear(src, srcw_c, used, i0, i1, a0, a1, j0, j1, b0, b1, out) reads the uint8 rows `used` of
 * `src` (rows of srcw_c bytes), makes each one's horizontal pass (S[i0]*a0 + S[i1]*a1) >> 4 in
 * int32, then every output row r: ((L[j0[r]]*b0[r] >> 16) + (L[j1[r]]*b1[r] >> 16) + 2) >> 2 as
 * uint8 into `out`. The coefficients and indices come from resize._plan, which computes them as
 * ncnn does; this is only the arithmetic, the same integer operations in the same order as the
 * numpy path, so the pixels are identical. Every index is checked against its bound first.
 *
 * Why compiled: numpy takes 0.7-1.5 ms for a 390x457 -> 224x224 resize (gathers and int32
 * temporaries in ~12 calls; the more in a real calibration run, where the two workers share the
 * caches), up to a tenth of aciq's per-image CPU; here it is one pass, 0.4-0.8 ms, the GIL released.
 */
#include "../_buffer.h"
#include <stdint.h>
#include <string.h>

/* Whether all n indices lie in [0, bound). */
static int in_range(const int64_t *index, Py_ssize_t n, Py_ssize_t bound)
{
    for (Py_ssize_t k = 0; k < n; k++)
        if (index[k] < 0 || index[k] >= bound)
            return 0;
    return 1;
}

enum { SRC, USED, I0, I1, A0, A1, J0, J1, B0, B1, OUT, NBUF };

static void passes(Py_buffer *v, Py_ssize_t srcw_c, int32_t *rows)
{
    const uint8_t *src = v[SRC].buf;
    const int64_t *used = v[USED].buf, *i0 = v[I0].buf, *i1 = v[I1].buf, *j0 = v[J0].buf, *j1 = v[J1].buf;
    const int32_t *a0 = v[A0].buf, *a1 = v[A1].buf, *b0 = v[B0].buf, *b1 = v[B1].buf;
    Py_ssize_t n_used = v[USED].len / 8, wc = v[I0].len / 8, h = v[J0].len / 8;
    uint8_t *out = v[OUT].buf;
    for (Py_ssize_t u = 0; u < n_used; u++) {
        const uint8_t *s = src + used[u] * srcw_c;
        int32_t *row = rows + u * wc;
        for (Py_ssize_t x = 0; x < wc; x++)
            row[x] = (s[i0[x]] * a0[x] + s[i1[x]] * a1[x]) >> 4;
    }
    for (Py_ssize_t r = 0; r < h; r++) {
        const int32_t *r0 = rows + j0[r] * wc, *r1 = rows + j1[r] * wc;
        int32_t w0 = b0[r], w1 = b1[r];
        for (Py_ssize_t x = 0; x < wc; x++)
            out[r * wc + x] = (uint8_t)((((r0[x] * w0) >> 16) + ((r1[x] * w1) >> 16) + 2) >> 2);
    }
}

/* The sizes and indices fit each other: every read stays inside its buffer. */
static int consistent(Py_buffer *v, Py_ssize_t srcw_c)
{
    Py_ssize_t n_used = v[USED].len / 8, wc = v[I0].len / 8, h = v[J0].len / 8;
    if (srcw_c < 1 || v[SRC].len % srcw_c || v[I1].len != v[I0].len || v[A0].len != wc * 4 || v[A1].len != wc * 4
        || v[J1].len != v[J0].len || v[B0].len != h * 4 || v[B1].len != h * 4 || v[OUT].len != h * wc)
        return 0;
    return in_range(v[USED].buf, n_used, v[SRC].len / srcw_c) && in_range(v[I0].buf, wc, srcw_c)
           && in_range(v[I1].buf, wc, srcw_c) && in_range(v[J0].buf, h, n_used) && in_range(v[J1].buf, h, n_used);
}

static PyObject *bilinear(PyObject *self, PyObject *args)
{
    static const char *formats[NBUF] = {"B", "lq", "lq", "lq", "i", "i", "lq", "lq", "i", "i", "B"};
    static const Py_ssize_t sizes[NBUF] = {1, 8, 8, 8, 4, 4, 8, 8, 4, 4, 1};
    static const char *names[NBUF] = {"src", "used", "i0", "i1", "a0", "a1", "j0", "j1", "b0", "b1", "out"};
    PyObject *obj[NBUF];
    Py_buffer v[NBUF];
    Py_ssize_t srcw_c;
    int got = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "OnOOOOOOOOOO", &obj[SRC], &srcw_c, &obj[USED], &obj[I0], &obj[I1], &obj[A0],
                          &obj[A1], &obj[J0], &obj[J1], &obj[B0], &obj[B1], &obj[OUT]))
        return NULL;
    for (; got < NBUF; got++)
        if (get_buffer(obj[got], &v[got], got == OUT, formats[got], sizes[got], -1, names[got]) < 0)
            break;
    int ok = got == NBUF && consistent(v, srcw_c), nomem = 0;
    if (ok) {
        int32_t *rows = PyMem_RawMalloc((size_t)(v[USED].len / 8) * (size_t)(v[I0].len / 8) * sizeof(int32_t) + 1);
        nomem = rows == NULL;
        if (rows != NULL) {
            Py_BEGIN_ALLOW_THREADS
            passes(v, srcw_c, rows);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(rows);
        }
    }
    for (int k = 0; k < got; k++)
        PyBuffer_Release(&v[k]);
    if (got < NBUF)
        return NULL;
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "resize plan and buffers do not fit each other");
        return NULL;
    }
    if (nomem)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bilinear", bilinear, METH_VARARGS,
     "bilinear(src, srcw_c, used, i0, i1, a0, a1, j0, j1, b0, b1, out): ncnn's bilinear resize passes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_resize", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__resize(void)
{
    return PyModule_Create(&module);
}
