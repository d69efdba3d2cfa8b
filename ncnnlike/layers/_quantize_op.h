/* QuantizeInt8 (domain "ncnnlike"), the second op of the custom-op library _dw_vnni.c: a float
 * tensor x (any shape) -> uint8 q + 128 of the same shape, q = ncnn's x86 float2int8(x * scale)
 * (dw_quantize in _dw_vnni_kernel.h), for the fast int8 path's float bottoms (layers/quantize_op.py).
 * In one pass where QuantizeLinear (half to even, x / (1 / scale)) and a Clip for ncnn's -127
 * floor took two, and rounding as ncnn does. Attributes: scale (float), tasks (int, default 1:
 * the session's threads, among which large tensors are split). Included by _dw_vnni.c, after
 * its declarations of onnxruntime's ABI. */

#define Q_CHUNK 65536        /* elements of one task of a split tensor */

typedef struct {
    OrtApiTable *api;
    float scale;
    int parts, ok;
} QuantizeKernel;

static void *q_create(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    typedef OrtStatus *(*FF)(const OrtKernelInfo *, const char *, float *);
    (void)op;
    QuantizeKernel *k = calloc(1, sizeof(QuantizeKernel));
    if (k == NULL)
        return NULL;
    k->api = api;
    k->ok = release(api, ORT(api, KernelInfoGetAttribute_float, FF)(info, "scale", &k->scale));
    k->parts = tasks_attribute(api, info);
    return k;
}

typedef struct {
    const float *x;
    float scale;
    uint8_t *y;
    size_t count;
} QuantizeJob;

static void q_task(void *user, size_t index)
{
    const QuantizeJob *job = user;
    size_t lo = index * Q_CHUNK, hi = lo + Q_CHUNK < job->count ? lo + Q_CHUNK : job->count;
    dw_quantize(job->x, job->scale, job->y, lo, hi);
}

/* The output: x's shape, or empty where x cannot be read (this ABI version cannot fail a call). */
static void q_compute(void *op_kernel, OrtKernelContext *ctx)
{
    typedef OrtStatus *(*GetOutput)(OrtKernelContext *, size_t, const int64_t *, size_t, OrtValue **);
    const QuantizeKernel *k = op_kernel;
    void *x = NULL, *y = NULL;
    size_t count = 0, rank = 1;
    int64_t dims[MAX_RANK] = {0};
    OrtValue *out = NULL;
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    int good = k->ok && dw_cpu_supported() && input(k->api, ctx, 0, T_FLOAT, &x, &count, dims, &rank);
    if (!good)
        rank = 1, dims[0] = 0;
    OrtStatus *st = ORT(k->api, KernelContext_GetOutput, GetOutput)(ctx, 0, dims, rank, &out);
    if (st == NULL && good && count > 0
        && !ORT(k->api, GetTensorMutableData, OrtStatus *(*)(OrtValue *, void **))(out, &y) && y != NULL) {
        QuantizeJob job = {x, k->scale, y, count};
        size_t tasks = (count + Q_CHUNK - 1) / Q_CHUNK;
        int split = parallel_api != NULL && k->parts > 1 && tasks > 1;
        if (!split || !release(k->api, ORT(parallel_api, KernelContext_ParallelFor, ParallelFor)(ctx, q_task, tasks,
                                                                                              0, &job)))
            dw_quantize(x, k->scale, y, 0, count);
    }
    release(k->api, st);
}

static const char *q_name(const OrtCustomOp *op) { (void)op; return "QuantizeInt8"; }
static int q_input_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_FLOAT; }
static size_t q_count(const OrtCustomOp *op) { (void)op; return 1; }

static const OrtCustomOp quantize_op = {ORT_API_VERSION_USED, q_create, q_name, op_provider, q_input_type, q_count,
                                        op_output_type, q_count, q_compute, destroy, op_required, op_required};
