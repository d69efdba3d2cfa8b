/* Reading a Python buffer argument in ncnnlike's compiled kernels (quant/_bins.c, quant/_resize.c,
 * quant/methods/_klest.c): one check of layout, item size, format and count, one error message. */
#ifndef NCNNLIKE_BUFFER_H
#define NCNNLIKE_BUFFER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* A C-contiguous buffer of itemsize-byte items of one of the struct formats in `formats`, and of
 * `count` items unless count < 0; else TypeError naming `what`, and nothing held. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, const char *formats, Py_ssize_t itemsize,
                      Py_ssize_t count, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != itemsize || strlen(view->format) != 1 || !strchr(formats, view->format[0])
        || (count >= 0 && view->len != count * itemsize)) {
        if (count >= 0)
            PyErr_Format(PyExc_TypeError, "%s must be a contiguous buffer of %zd %zd-byte items ('%s')", what,
                         count, itemsize, formats);
        else
            PyErr_Format(PyExc_TypeError, "%s must be a contiguous buffer of %zd-byte items ('%s')", what,
                         itemsize, formats);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#endif
