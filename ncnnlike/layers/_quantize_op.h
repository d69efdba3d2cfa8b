/* QuantizeInt8 (domain "ncnnlike"), the second op of the custom-op library _dw_vnni.c: a float
 * tensor x (any shape) -> uint8 q + 128 of the same shape, q = ncnn's x86 float2int8(x * scale)
 * (dw_quantize in _dw_vnni_kernel.h), for the fast int8 path's float bottoms (layers/quantize_op.py).
 * In one pass where QuantizeLinear (half to even, x / (1 / scale)) and a Clip for ncnn's -127
 * floor took two, and rounding as ncnn does. Attributes: scale (float), tasks (int, default 1:
 * the session's threads, among which large tensors are split), pad (int, default -1): where 0 to
 * 255, x is an NCHW image of 1 to 3 channels and the output its NHWC bytes with the channels
 * padded to 4 with `pad` (N, H, W, 4): a stem's input, which a Pad and a Transpose took two more
 * passes to make (dw_quantize_pack4). Included by _dw_vnni.c, after its declarations of
 * onnxruntime's ABI. */

#define Q_CHUNK 65536        /* elements of one task of a split tensor */

typedef struct {
    OrtApiTable *api;
    float scale;
    int parts, ok, pad;       /* pad: -1, or the byte of the channels a packed output adds */
} QuantizeKernel;

static void *q_create(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    (void)op;
    QuantizeKernel *k = calloc(1, sizeof(QuantizeKernel));
    if (k == NULL)
        return NULL;
    k->api = api;
    int64_t pad = -1;
    k->ok = float_attribute(api, info, "scale", &k->scale);
    int_attribute(api, info, "pad", &pad);
    k->ok = k->ok && pad >= -1 && pad <= 255;
    k->pad = (int)pad;
    k->parts = tasks_attribute(api, info);
    return k;
}

typedef struct {
    const float *x;
    float scale;
    uint8_t *y;
    size_t count;             /* elements of a sample (its pixels where packed) */
    size_t chunk, chunks;     /* elements (pixels) of a task, tasks of a sample */
    int c, pad;               /* packed: the sample's channels and the pad byte; else c = 0 */
} QuantizeJob;

/* Task `index`: one chunk of one sample. */
static void q_task(void *user, size_t index)
{
    const QuantizeJob *job = user;
    size_t sample = index / job->chunks, lo = index % job->chunks * job->chunk;
    size_t hi = lo + job->chunk < job->count ? lo + job->chunk : job->count;
    if (job->c == 0)
        dw_quantize(job->x + sample * job->count, job->scale, job->y + sample * job->count, lo, hi);
    else
        dw_quantize_pack4(job->x + sample * job->count * job->c, job->count, job->c, job->scale,
                          (uint8_t)job->pad, job->y + sample * job->count * 4, lo, hi);
}

/* The job of a call on x (`dims`, `rank`, `count` elements); for a packed output its dims (N, H,
 * W, 4) replace `dims`. 0 where a packed x is not an image of 1 to 3 channels. */
static int q_job(const QuantizeKernel *k, const float *x, uint8_t *y, int64_t *dims, size_t *rank, size_t count,
                 QuantizeJob *job)
{
    *job = (QuantizeJob){.x = x, .scale = k->scale, .y = y, .count = count, .chunk = Q_CHUNK, .c = 0, .pad = k->pad};
    if (k->pad >= 0) {
        if (*rank != 4 || dims[0] < 0 || dims[1] < 1 || dims[1] > 3 || dims[2] < 0 || dims[3] < 0)
            return 0;
        job->c = (int)dims[1];
        job->count = (size_t)dims[2] * (size_t)dims[3];
        job->chunk = Q_CHUNK / 4;        /* the same bytes of output a task */
        dims[1] = dims[2], dims[2] = dims[3], dims[3] = 4;
    }
    job->chunks = job->count ? (job->count + job->chunk - 1) / job->chunk : 1;    /* empty: no task runs */
    return 1;
}

/* The output: x's shape (packed: (N, H, W, 4)), or empty where x cannot be read (this ABI version
 * cannot fail a call). */
static void q_compute(void *op_kernel, OrtKernelContext *ctx)
{
    const QuantizeKernel *k = op_kernel;
    void *x = NULL;
    size_t count = 0, rank = 1;
    int64_t dims[MAX_RANK] = {0};
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    QuantizeJob job;
    int good = k->ok && dw_cpu_supported() && input(k->api, ctx, 0, T_FLOAT, &x, &count, dims, &rank)
               && q_job(k, x, NULL, dims, &rank, count, &job);
    if (!good)
        rank = 1, dims[0] = 0;
    void *y = output_data(k->api, ctx, 0, dims, rank);
    if (good && count > 0 && y != NULL) {
        job.y = y;
        size_t tasks = job.chunks * (count / (job.count * (job.c ? (size_t)job.c : 1)));
        int split = parallel_api != NULL && k->parts > 1 && tasks > 1;
        if (!split || !release(k->api, ORT(parallel_api, KernelContext_ParallelFor, ParallelFor)(ctx, q_task, tasks,
                                                                                              0, &job)))
            for (size_t i = 0; i < tasks; i++)
                q_task(&job, i);
    }
}

static const char *q_name(const OrtCustomOp *op) { (void)op; return "QuantizeInt8"; }
static int q_input_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_FLOAT; }
static size_t q_count(const OrtCustomOp *op) { (void)op; return 1; }

static const OrtCustomOp quantize_op = {ORT_API_VERSION_USED, q_create, q_name, op_provider, q_input_type, q_count,
                                        op_output_type, q_count, q_compute, destroy, op_required, op_required};
