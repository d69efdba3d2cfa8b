/* ncnnlike.layers._dw_vnni: ncnn's requantizing int8 depthwise convolution on AVX512-VNNI + VBMI
 * (_dw_vnni_kernel.h), two ways in:
 *
 *   - as an onnxruntime custom op, DepthwiseInt8 in domain "ncnnlike", which the fast int8 path
 *     lowers depthwise layers to (layers/dw_vnni.py). onnxruntime loads this file as a custom-op
 *     library (SessionOptions.register_custom_ops_library) and calls RegisterCustomOps;
 *   - from Python, run(...), for the tests.
 *
 * The library also holds QuantizeInt8 (_quantize_op.h): ncnn's float -> int8 of the fast path's
 * float bottoms (layers/quantize_op.py), and PointwiseInt8 (_pointwise_op.h): its 1x1 convolutions
 * with a float top (layers/pw_vnni.py); and, registered on any CPU (the three int8 ops only where
 * it has AVX512-VNNI and VBMI), calibration's reductions inside the graph that makes its blobs
 * (quant/probes.py): Extrema (_extrema_op.h, pass 1's per-sample min and max) and Histogram
 * (_histogram_op.h, pass 2's bins).
 *
 * onnxruntime's wheel ships no C header. What this file uses of its C ABI (version 8, which every
 * later onnxruntime keeps: its function table only grows) is declared below: the indices of the
 * dozen functions called in the OrtApi table of function pointers, and the OrtCustomOp struct of
 * that version; and, where onnxruntime is recent enough to hand out version 20 of the table,
 * KernelContext_ParallelFor, which splits a layer's work over the session's intra-op threads. The
 * kernel maps no executable memory and reads only what its checks allow.
 */
#include "../_buffer.h"
#include "_dw_vnni_kernel.h"
#include <stdlib.h>

/* ---- onnxruntime's C ABI, version 8 ---- */

typedef struct OrtStatus OrtStatus;
typedef struct OrtKernelInfo OrtKernelInfo;
typedef struct OrtKernelContext OrtKernelContext;
typedef struct OrtValue OrtValue;
typedef struct OrtTensorTypeAndShapeInfo OrtShape;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtCustomOpDomain OrtCustomOpDomain;
typedef void *const OrtApiTable;                       /* the OrtApi struct: function pointers */
typedef struct {
    OrtApiTable *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} OrtApiBase;

enum { ORT_API_VERSION_USED = 8, ORT_API_VERSION_PARALLEL = 20 };
enum { T_FLOAT = 1, T_UINT8 = 2, T_INT8 = 3, T_INT32 = 6 };      /* ONNXTensorElementDataType */
enum {                                                            /* indices in the OrtApi table */
    API_ReleaseStatus = 93, API_CreateCustomOpDomain = 26, API_CustomOpDomain_Add = 27,
    API_AddCustomOpDomain = 28, API_GetTensorMutableData = 51, API_GetTensorElementType = 60,
    API_GetDimensionsCount = 61, API_GetDimensions = 62, API_GetTensorShapeElementCount = 64,
    API_GetTensorTypeAndShape = 65, API_KernelInfoGetAttribute_float = 85, API_KernelInfoGetAttribute_int64 = 86,
    API_KernelContext_GetInput = 90, API_KernelContext_GetOutput = 91, API_ReleaseTensorTypeAndShapeInfo = 99,
    API_KernelInfoGetAttributeArray_int64 = 163, API_KernelContext_ParallelFor = 274,
};
typedef OrtStatus *(*ParallelFor)(const OrtKernelContext *, void (*)(void *, size_t), size_t, size_t, void *);

/* The table of version ORT_API_VERSION_PARALLEL, or NULL where onnxruntime is older (set once, when
 * onnxruntime registers the library; read by every kernel call). */
static OrtApiTable *parallel_api;
#define ORT(api, name, type) ((type)(api)[API_##name])

typedef struct OrtCustomOp {
    uint32_t version;
    void *(*CreateKernel)(const struct OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info);
    const char *(*GetName)(const struct OrtCustomOp *op);
    const char *(*GetExecutionProviderType)(const struct OrtCustomOp *op);
    int (*GetInputType)(const struct OrtCustomOp *op, size_t index);
    size_t (*GetInputTypeCount)(const struct OrtCustomOp *op);
    int (*GetOutputType)(const struct OrtCustomOp *op, size_t index);
    size_t (*GetOutputTypeCount)(const struct OrtCustomOp *op);
    void (*KernelCompute)(void *op_kernel, OrtKernelContext *context);
    void (*KernelDestroy)(void *op_kernel);
    int (*GetInputCharacteristic)(const struct OrtCustomOp *op, size_t index);
    int (*GetOutputCharacteristic)(const struct OrtCustomOp *op, size_t index);
} OrtCustomOp;

/* ---- the custom op ----
 * Inputs: x (N, H, W, C) uint8; wv int8; scale, bias float (C); corr int32 (C).
 * Attributes: kernel_shape, strides (2 ints), pads (4 ints, ONNX order: top, left, bottom, right),
 * bounded (int), act_lo, act_hi, s_top (floats), and optionally x_lo, x_hi (ints, default 0 and 255:
 * the uint8 clamp of the input, a Clip folded in) and tasks (int, default 1: the session's threads,
 * which a sample's output rows are split among). Output: y (N, OH, OW, C) uint8. */

enum { IN_X, IN_WV, IN_SCALE, IN_BIAS, IN_CORR, N_INPUTS };
static const int input_types[N_INPUTS] = {T_UINT8, T_INT8, T_FLOAT, T_FLOAT, T_INT32};

typedef struct {
    OrtApiTable *api;
    int kh, kw, sh, sw, pt, pl, pb, pr, bounded, x_lo, x_hi, parts, ok;
    float act_lo, act_hi, s_top;
} Kernel;

/* A status let go of; 1 where there was none (success). */
static int release(OrtApiTable *api, OrtStatus *st)
{
    if (st != NULL)
        ORT(api, ReleaseStatus, void (*)(OrtStatus *))(st);
    return st == NULL;
}

/* The float attribute `name` into `out`; 0 (`out` untouched) where absent. */
static int float_attribute(OrtApiTable *api, const OrtKernelInfo *info, const char *name, float *out)
{
    typedef OrtStatus *(*F)(const OrtKernelInfo *, const char *, float *);
    return release(api, ORT(api, KernelInfoGetAttribute_float, F)(info, name, out));
}

/* The int attribute `name` into `out`; 0 (`out` untouched) where absent. */
static int int_attribute(OrtApiTable *api, const OrtKernelInfo *info, const char *name, int64_t *out)
{
    typedef OrtStatus *(*F)(const OrtKernelInfo *, const char *, int64_t *);
    return release(api, ORT(api, KernelInfoGetAttribute_int64, F)(info, name, out));
}

/* The optional attribute `tasks` (the session's threads a call may split its work among): 1 to 1024,
 * 1 when absent or out of range. */
static int tasks_attribute(OrtApiTable *api, const OrtKernelInfo *info)
{
    int64_t parts = 1;
    int_attribute(api, info, "tasks", &parts);
    return parts >= 1 && parts <= 1024 ? (int)parts : 1;
}

/* The int array attribute `name` of exactly n values into `out`; 0 if absent or of another size. */
static int ints_attribute(OrtApiTable *api, const OrtKernelInfo *info, const char *name, int64_t *out, size_t n)
{
    typedef OrtStatus *(*F)(const OrtKernelInfo *, const char *, int64_t *, size_t *);
    size_t size = 0;
    if (!release(api, ORT(api, KernelInfoGetAttributeArray_int64, F)(info, name, NULL, &size)) || size != n)
        return 0;
    return release(api, ORT(api, KernelInfoGetAttributeArray_int64, F)(info, name, out, &size));
}

static int scalar_attributes(OrtApiTable *api, const OrtKernelInfo *info, Kernel *k)
{
    int64_t bounded = 0;
    int ok = float_attribute(api, info, "act_lo", &k->act_lo);
    ok = float_attribute(api, info, "act_hi", &k->act_hi) && ok;
    ok = float_attribute(api, info, "s_top", &k->s_top) && ok;
    ok = int_attribute(api, info, "bounded", &bounded) && ok;
    int64_t optional[2] = {0, 255};         /* absent: the whole byte range */
    int_attribute(api, info, "x_lo", &optional[0]);
    int_attribute(api, info, "x_hi", &optional[1]);
    k->bounded = bounded != 0;
    k->x_lo = optional[0] >= 0 && optional[0] <= 255 ? (int)optional[0] : -1;
    k->x_hi = optional[1] >= 0 && optional[1] <= 255 ? (int)optional[1] : -1;
    k->parts = tasks_attribute(api, info);
    return ok && k->x_lo >= 0 && k->x_hi >= k->x_lo;
}

/* The kernel's attributes; a kernel whose attributes are missing or out of range is marked not ok
 * and outputs an empty tensor, which the next node refuses (this version of the ABI has no way to
 * return an error from a kernel). */
static void *create_kernel(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    (void)op;
    Kernel *k = calloc(1, sizeof(Kernel));
    if (k == NULL)
        return NULL;
    int64_t ks[2], st[2], pads[4];
    k->api = api;
    k->ok = ints_attribute(api, info, "kernel_shape", ks, 2) && ints_attribute(api, info, "strides", st, 2)
            && ints_attribute(api, info, "pads", pads, 4) && scalar_attributes(api, info, k);
    for (int i = 0; i < 2; i++)
        k->ok = k->ok && ks[i] >= 1 && ks[i] <= DW_MAX_KH && st[i] >= 1 && st[i] <= 64;
    for (int i = 0; i < 4; i++)
        k->ok = k->ok && pads[i] >= 0 && pads[i] <= DW_MAX_KH;
    if (k->ok) {
        k->kh = (int)ks[0], k->kw = (int)ks[1], k->sh = (int)st[0], k->sw = (int)st[1];
        k->pt = (int)pads[0], k->pl = (int)pads[1], k->pb = (int)pads[2], k->pr = (int)pads[3];
    }
    return k;
}

/* Input `index`: its data, element count and dimensions (at most MAX_RANK), checked to be of
 * `type`; 0 if any of it cannot be had. (A status left unreleased is a leak only on a failure path
 * that a graph of our own lowering does not reach.) */
#define MAX_RANK 8
static int input(OrtApiTable *api, OrtKernelContext *ctx, size_t index, int expected, void **data, size_t *count,
                 int64_t *dims, size_t *rank)
{
    const OrtValue *value = NULL;
    OrtShape *shape = NULL;
    int type = -1;
    *data = NULL;
    if (ORT(api, KernelContext_GetInput, OrtStatus *(*)(OrtKernelContext *, size_t, const OrtValue **))(ctx, index, &value)
        || value == NULL
        || ORT(api, GetTensorTypeAndShape, OrtStatus *(*)(const OrtValue *, OrtShape **))(value, &shape))
        return 0;
    int good = !ORT(api, GetTensorElementType, OrtStatus *(*)(const OrtShape *, int *))(shape, &type)
               && type == expected
               && !ORT(api, GetTensorShapeElementCount, OrtStatus *(*)(const OrtShape *, size_t *))(shape, count)
               && !ORT(api, GetDimensionsCount, OrtStatus *(*)(const OrtShape *, size_t *))(shape, rank) && *rank <= MAX_RANK
               && !ORT(api, GetDimensions, OrtStatus *(*)(const OrtShape *, int64_t *, size_t))(shape, dims, *rank)
               && !ORT(api, GetTensorMutableData, OrtStatus *(*)(OrtValue *, void **))((OrtValue *)value, data);
    ORT(api, ReleaseTensorTypeAndShapeInfo, void (*)(OrtShape *))(shape);
    return good && (*data != NULL || *count == 0);
}

/* Output `index` made with these dimensions: its data, or NULL where onnxruntime refused it (or it is
 * empty). */
static void *output_data(OrtApiTable *api, OrtKernelContext *ctx, size_t index, const int64_t *dims, size_t rank)
{
    typedef OrtStatus *(*GetOutput)(OrtKernelContext *, size_t, const int64_t *, size_t, OrtValue **);
    OrtValue *out = NULL;
    void *y = NULL;
    if (!release(api, ORT(api, KernelContext_GetOutput, GetOutput)(ctx, index, dims, rank, &out)) || out == NULL)
        return NULL;
    return release(api, ORT(api, GetTensorMutableData, OrtStatus *(*)(OrtValue *, void **))(out, &y)) ? y : NULL;
}

/* The call's arguments from the inputs; 0 where anything disagrees with the kernel's geometry. */
static int gather(const Kernel *k, OrtKernelContext *ctx, dw_args *a)
{
    void *data[N_INPUTS];
    size_t count[N_INPUTS], rank;
    int64_t dims[MAX_RANK];
    for (int i = N_INPUTS - 1; i >= 0; i--)        /* x last: its dims stay in `dims` */
        if (!input(k->api, ctx, i, input_types[i], &data[i], &count[i], dims, &rank))
            return 0;
    if (rank != 4 || dims[0] < 0 || dims[0] > 1 << 16 || dims[1] < 1 || dims[1] > 1 << 15 || dims[2] < 1
        || dims[2] > 1 << 15 || dims[3] < 1 || dims[3] > 1 << 20)
        return 0;
    *a = (dw_args){.n = (int)dims[0], .h = (int)dims[1], .w = (int)dims[2], .c = (int)dims[3], .kh = k->kh,
                   .kw = k->kw, .sh = k->sh, .sw = k->sw, .pt = k->pt, .pl = k->pl, .bounded = k->bounded,
                   .x_lo = k->x_lo, .x_hi = k->x_hi, .parts = k->parts,
                   .act_lo = k->act_lo, .act_hi = k->act_hi, .s_top = k->s_top};
    a->oh = (a->h + k->pt + k->pb - k->kh) / k->sh + 1;
    a->ow = (a->w + k->pl + k->pr - k->kw) / k->sw + 1;
    size_t groups = dw_groups(a->c), c = a->c;
    if (a->h + k->pt + k->pb < k->kh || a->w + k->pl + k->pr < k->kw || dw_check(a) != NULL
        || count[IN_WV] != groups * a->kh * dw_nq(a->kw) * 64
        || count[IN_SCALE] != c || count[IN_BIAS] != c || count[IN_CORR] != c)
        return 0;
    a->x = data[IN_X], a->wv = data[IN_WV];
    a->scale = data[IN_SCALE], a->bias = data[IN_BIAS], a->corr = data[IN_CORR];
    return 1;
}

/* What the tasks of one call share. */
typedef struct {
    const dw_args *a;
    uint8_t *rings;
    size_t ring_bytes;
} Job;

static void run_task(void *user, size_t index)
{
    const Job *job = user;
    dw_run_task(job->a, index, job->rings + index * job->ring_bytes);
}

/* The layer's tasks on the session's threads where onnxruntime can split them (`rings` holds one
 * ring a task), else in turn (one ring). */
static void run_layer(OrtKernelContext *ctx, const dw_args *a, int split, uint8_t *rings)
{
    Job job = {a, rings, dw_ring_bytes(a)};
    if (split && release(parallel_api, ORT(parallel_api, KernelContext_ParallelFor, ParallelFor)(
                                           ctx, run_task, (size_t)a->n * dw_tasks(a), 0, &job)))
        return;
    dw_run(a, rings);            /* no split, or onnxruntime refused it: every task here, in turn */
}

/* A kernel call: the output, empty where the inputs do not fit the kernel's geometry or no memory
 * is left for the rings (this ABI version has no way to return an error). */
static void compute(void *op_kernel, OrtKernelContext *ctx)
{
    const Kernel *k = op_kernel;
    dw_args a;
    uint8_t *rings = NULL;
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    int good = k->ok && dw_cpu_supported() && gather(k, ctx, &a);
    int split = good && parallel_api != NULL && (size_t)a.n * dw_tasks(&a) > 1;
    good = good && (rings = malloc((split ? (size_t)a.n * dw_tasks(&a) : 1) * dw_ring_bytes(&a))) != NULL;
    int64_t dims[4] = {good ? a.n : 0, good ? a.oh : 0, good ? a.ow : 0, good ? a.c : 0};
    void *y = output_data(k->api, ctx, 0, dims, 4);
    if (good && y != NULL) {
        a.y = y;
        run_layer(ctx, &a, split, rings);
    }
    free(rings);
}

static void destroy(void *op_kernel) { free(op_kernel); }
static const char *op_name(const OrtCustomOp *op) { (void)op; return "DepthwiseInt8"; }
static const char *op_provider(const OrtCustomOp *op) { (void)op; return NULL; }      /* CPU */
static int op_input_type(const OrtCustomOp *op, size_t i) { (void)op; return i < N_INPUTS ? input_types[i] : 0; }
static size_t op_input_count(const OrtCustomOp *op) { (void)op; return N_INPUTS; }
static int op_output_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_UINT8; }
static size_t op_output_count(const OrtCustomOp *op) { (void)op; return 1; }
static int op_required(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return 0; }

static const OrtCustomOp depthwise_op = {ORT_API_VERSION_USED, create_kernel, op_name, op_provider, op_input_type,
                                         op_input_count, op_output_type, op_output_count, compute, destroy,
                                         op_required, op_required};

#include "_quantize_op.h"
#include "_pw_vnni_kernel.h"
#include "_pointwise_op.h"
#include "_histogram_op.h"
#include "_extrema_op.h"

/* onnxruntime's entry point of a custom-op library. The domain goes with the session options. */
__attribute__((visibility("default"))) OrtStatus *RegisterCustomOps(OrtSessionOptions *options,
                                                                   const OrtApiBase *base)
{
    OrtApiTable *api = base->GetApi(ORT_API_VERSION_USED);
    OrtCustomOpDomain *domain = NULL;
    OrtStatus *st;
    if (api == NULL)
        return NULL;         /* no status can be made without the table; the op is then unknown */
    parallel_api = base->GetApi(ORT_API_VERSION_PARALLEL);
    st = ORT(api, CreateCustomOpDomain, OrtStatus *(*)(const char *, OrtCustomOpDomain **))("ncnnlike", &domain);
    const OrtCustomOp *ops[] = {&histogram_op, &extrema_op, &depthwise_op, &quantize_op, &pointwise_ops[PW_PLAIN],
                                &pointwise_ops[PW_Q], &pointwise_ops[PW_ADD_Q]};
    size_t n_ops = dw_cpu_supported() ? sizeof ops / sizeof ops[0] : 2;    /* the int8 ops need VNNI and VBMI */
    for (size_t i = 0; i < n_ops && st == NULL; i++)
        st = ORT(api, CustomOpDomain_Add, OrtStatus *(*)(OrtCustomOpDomain *, const OrtCustomOp *))(domain, ops[i]);
    if (st == NULL)
        st = ORT(api, AddCustomOpDomain, OrtStatus *(*)(OrtSessionOptions *, OrtCustomOpDomain *))(options, domain);
    return st;
}

/* ---- from Python ---- */

/* The n buffers of `obj` (the last one written to), each of counts[i] items of formats[i], sizes[i]
 * bytes; 0 with all of them held, else -1 with none held and the error set. */
static int get_buffers(PyObject **obj, Py_buffer *v, int n, const char *const *formats, const Py_ssize_t *sizes,
                       const Py_ssize_t *counts, const char *const *names)
{
    for (int i = 0; i < n; i++)
        if (get_buffer(obj[i], &v[i], i == n - 1, formats[i], sizes[i], counts[i], names[i]) < 0) {
            while (i-- > 0)
                PyBuffer_Release(&v[i]);
            return -1;
        }
    return 0;
}

static void release_buffers(Py_buffer *v, int n)
{
    while (n-- > 0)
        PyBuffer_Release(&v[n]);
}

/* 0 where this CPU runs the kernels, else -1 with RuntimeError set. */
static int cpu_or_error(void)
{
    if (dw_cpu_supported())
        return 0;
    PyErr_SetString(PyExc_RuntimeError, "this CPU lacks AVX512-VNNI or AVX512-VBMI");
    return -1;
}

enum { B_X, B_WV, B_SCALE, B_BIAS, B_CORR, B_Y, NBUF };

/* run(x, wv, scale, bias, corr, y, (n, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow, bounded, x_lo, x_hi,
 *     parts), (act_lo, act_hi, s_top)): the kernel on buffers, as the op runs it, its tasks in turn. */
static PyObject *run(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *obj[NBUF];
    dw_args a;
    if (!PyArg_ParseTuple(args, "OOOOOO(iiiiiiiiiiiiiiii)(fff)", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &obj[5],
                          &a.n, &a.h, &a.w, &a.c, &a.kh, &a.kw, &a.sh, &a.sw, &a.pt, &a.pl, &a.oh, &a.ow,
                          &a.bounded, &a.x_lo, &a.x_hi, &a.parts, &a.act_lo, &a.act_hi, &a.s_top))
        return NULL;
    if (cpu_or_error() < 0)
        return NULL;
    const char *bad = dw_check(&a);
    if (bad != NULL || a.n < 1) {
        PyErr_Format(PyExc_ValueError, "depthwise geometry: %s", bad ? bad : "no sample");
        return NULL;
    }
    Py_ssize_t c = a.c;
    Py_ssize_t counts[NBUF] = {(Py_ssize_t)a.n * a.h * a.w * c, (Py_ssize_t)dw_groups(a.c) * a.kh * dw_nq(a.kw) * 64,
                               c, c, c, (Py_ssize_t)a.n * a.oh * a.ow * c};
    const char *const formats[NBUF] = {"B", "b", "f", "f", "i", "B"};
    const char *const names[NBUF] = {"x", "wv", "scale", "bias", "corr", "y"};
    const Py_ssize_t sizes[NBUF] = {1, 1, 4, 4, 4, 1};
    Py_buffer v[NBUF];
    if (get_buffers(obj, v, NBUF, formats, sizes, counts, names) < 0)
        return NULL;
    uint8_t *ring = PyMem_RawMalloc(dw_ring_bytes(&a));
    if (ring != NULL) {
        a.x = v[B_X].buf, a.wv = v[B_WV].buf, a.scale = v[B_SCALE].buf, a.bias = v[B_BIAS].buf;
        a.corr = v[B_CORR].buf, a.y = v[B_Y].buf;
        Py_BEGIN_ALLOW_THREADS
        dw_run(&a, ring);
        Py_END_ALLOW_THREADS
        PyMem_RawFree(ring);
    }
    release_buffers(v, NBUF);
    if (ring == NULL)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* quantize(x, scale, y): dw_quantize on float32 x into uint8 y of as many items. */
static PyObject *quantize(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *xo, *yo;
    float scale;
    Py_buffer x, y;
    if (!PyArg_ParseTuple(args, "OfO", &xo, &scale, &yo) || cpu_or_error() < 0
        || get_buffer(xo, &x, 0, "f", 4, -1, "x") < 0)
        return NULL;
    if (get_buffer(yo, &y, 1, "B", 1, x.len / 4, "y") < 0) {
        PyBuffer_Release(&x);
        return NULL;
    }
    dw_quantize(x.buf, scale, y.buf, 0, (size_t)y.len);
    PyBuffer_Release(&x);
    PyBuffer_Release(&y);
    Py_RETURN_NONE;
}

/* pointwise(x, w, scale, bias, corr, y, (m, k, n), (act_lo, act_hi)[, fma]): the 1x1 kernel on buffers
 * (y float32), its pixels in one task. */
static PyObject *pointwise(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *obj[6];
    pw_args a = {.fma = 1};
    if (!PyArg_ParseTuple(args, "OOOOOO(iii)(ff)|p", &obj[0], &obj[1], &obj[2], &obj[3], &obj[4], &obj[5], &a.m, &a.k,
                          &a.n, &a.act_lo, &a.act_hi, &a.fma))
        return NULL;
    const char *bad = pw_check(&a);
    if (bad != NULL) {
        PyErr_Format(PyExc_ValueError, "pointwise geometry: %s", bad);
        return NULL;
    }
    if (cpu_or_error() < 0)
        return NULL;
    Py_ssize_t n = a.n, m = a.m;
    const Py_ssize_t counts[6] = {m * a.k, (Py_ssize_t)((a.n + 15) / 16) * a.k * 16, n, n, n, m * n};
    const char *const formats[6] = {"B", "b", "f", "f", "i", "f"};
    const char *const names[6] = {"x", "w", "scale", "bias", "corr", "y"};
    const Py_ssize_t sizes[6] = {1, 1, 4, 4, 4, 4};
    Py_buffer v[6];
    if (get_buffers(obj, v, 6, formats, sizes, counts, names) < 0)
        return NULL;
    a.x = v[0].buf, a.w = v[1].buf, a.scale = v[2].buf, a.bias = v[3].buf, a.corr = v[4].buf, a.y = v[5].buf;
    Py_BEGIN_ALLOW_THREADS
    pw_run_task(&a, 0, 1);
    Py_END_ALLOW_THREADS
    release_buffers(v, 6);
    Py_RETURN_NONE;
}

static PyObject *supported(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyBool_FromLong(DW_HAVE_KERNEL && dw_cpu_supported());
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "The depthwise kernel on buffers (module comment)."},
    {"pointwise", pointwise, METH_VARARGS, "The 1x1 convolution kernel on buffers (_pw_vnni_kernel.h)."},
    {"quantize", quantize, METH_VARARGS, "ncnn's float2int8 of x * scale as uint8 q + 128 (_quantize_op.h)."},
    {"supported", supported, METH_NOARGS, "Whether this CPU runs the kernel (AVX512-VNNI and VBMI)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_dw_vnni", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__dw_vnni(void)
{
    return PyModule_Create(&module);
}
