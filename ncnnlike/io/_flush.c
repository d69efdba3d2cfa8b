/* ncnnlike.io._flush: does a stored float32 buffer hold a value ncnn's ModelWriter would flush?
 *
 * needs_flush(data, start, stop, limit_bits) -> bool: True when some little-endian float32 of
 * data[start:stop] has 0 < (bits & 0x7fffffff) < limit_bits (0 < |v| < 1e-30 for ModelWriter's
 * limit), else False. ncnnlike/io/stored.py has the same check in pure Python (high bytes sliced
 * and translated, candidates checked one by one); this one pass over the bits takes ~1 ms for
 * Lite0's 4.6 M weights against ~19 for that, in a tool whose whole run is ~0.1 s (model-optimize).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* 1 when one of the n values at p is a non-zero magnitude below limit. */
static int any_below(const unsigned char *p, Py_ssize_t n, uint32_t limit)
{
    const Py_ssize_t block = 4096;
    for (Py_ssize_t s = 0; s < n; s += block) {
        Py_ssize_t m = n - s < block ? n - s : block;
        int hit = 0;
        for (Py_ssize_t i = 0; i < m; i++) {
            uint32_t bits;
            memcpy(&bits, p + 4 * (s + i), 4);
            bits &= 0x7fffffffu;
            hit |= (bits - 1u) < (limit - 1u);     /* 0 < bits < limit, in one unsigned compare */
        }
        if (hit)
            return 1;
    }
    return 0;
}

static PyObject *needs_flush(PyObject *self, PyObject *args)
{
    Py_buffer data;
    Py_ssize_t start, stop;
    unsigned long limit;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnk", &data, &start, &stop, &limit))
        return NULL;
    if (start < 0 || stop < start || stop > data.len || (stop - start) % 4 != 0 || limit == 0 ||
        limit > 0x7f800000ul) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "needs_flush: expected 0 <= start <= stop <= len(data), whole "
                                          "float32 values, and a limit within (0, inf]");
        return NULL;
    }
    int hit;
    Py_BEGIN_ALLOW_THREADS
    hit = any_below((const unsigned char *)data.buf + start, (stop - start) / 4, (uint32_t)limit);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyBool_FromLong(hit);
}

static PyMethodDef methods[] = {
    {"needs_flush", needs_flush, METH_VARARGS,
     "needs_flush(data, start, stop, limit_bits) -> bool: a float32 with 0 < |bits| < limit_bits in data[start:stop]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_flush", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__flush(void)
{
    return PyModule_Create(&module);
}
