/* ncnnlike.quant._bins: ncnn2table's histogram step (spec 5.5 step 2) as one compiled pass.
 *
 * counts(values, width, counts) adds the bin index min(int(|v| / width), 2047) of every float32 of
 * `values` to the 2048 int64 `counts`, and returns how many values were exact zeros (they land in
 * bin 0; the caller takes them out, as ncnn skips them), or -1 for a nan, then adding nothing.
 * Bad arguments raise TypeError or ValueError.
 *
 * Why compiled: numpy needs five passes over the data (abs, zero count, divide, clamp, cast) and
 * OpenCV a sixth to count; the kernel (_bins_kernel.h, shared with the onnxruntime op that bins
 * inside calibration's graph) does it in one. The GIL is released: calibration workers bin in parallel.
 */
#include "../_buffer.h"
#include "_bins_kernel.h"

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
    zeros = bins_add((const float *)values.buf, (size_t)(values.len / 4), width, 1.0f, (int64_t *)hist.buf);
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
