/* PointwiseInt8 (domain "ncnnlike"), the third op of the custom-op library _dw_vnni.c: ncnn's int8
 * 1x1 convolution with a float top (_pw_vnni_kernel.h) for the fast int8 path (layers/pw_vnni.py).
 * Inputs: x (N, H, W, K) uint8, or (N, K) / (N, H, K): InnerProduct's rows; w int8 (packed); scale,
 * bias float (C); corr int32 (C). Attributes: act_lo, act_hi (floats), fma (int, default 1: one
 * rounding as ncnn's Convolution; 0: two, as its InnerProduct), tasks (int, default 1: the
 * session's threads, among which the pixels are split). Output: y, x's shape with C for K, float.
 * PointwiseInt8Q and PointwiseInt8AddQ (layers/pw_fuse.py), NHWC x only: the same, plus the attribute
 * qscale (float) and a second output, uint8 (N, H, W, C): y quantized as ncnn's float2int8(y * qscale),
 * q + 128; PointwiseInt8AddQ also takes r (N, H, W, C) float, added to y (ncnn's BinaryOp add after
 * the layer) before both outputs. Included by _dw_vnni.c, after its declarations of onnxruntime's ABI. */

enum { PW_X_IN, PW_W_IN, PW_SCALE_IN, PW_BIAS_IN, PW_CORR_IN, PW_INPUTS, PW_R_IN = PW_INPUTS };
static const int pw_input_types[PW_INPUTS + 1] = {T_UINT8, T_INT8, T_FLOAT, T_FLOAT, T_INT32, T_FLOAT};
static const OrtCustomOp pointwise_ops[PW_MODES];     /* the op of each mode: its place in this array */
static const char *const pw_names[PW_MODES] = {"PointwiseInt8", "PointwiseInt8Q", "PointwiseInt8AddQ"};

static int pw_mode(const OrtCustomOp *op) { return (int)(op - pointwise_ops); }

typedef struct {
    OrtApiTable *api;
    int parts, ok, fma, mode;
    float act_lo, act_hi, qscale;
} PointwiseKernel;

static void *pw_create(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    PointwiseKernel *k = calloc(1, sizeof(PointwiseKernel));
    if (k == NULL)
        return NULL;
    k->api = api;
    k->ok = float_attribute(api, info, "act_lo", &k->act_lo) & float_attribute(api, info, "act_hi", &k->act_hi);
    k->parts = tasks_attribute(api, info);
    int64_t fma = 1;
    int_attribute(api, info, "fma", &fma);
    k->fma = fma != 0;
    k->mode = pw_mode(op);
    if (k->mode != PW_PLAIN)
        k->ok = k->ok && float_attribute(api, info, "qscale", &k->qscale);
    return k;
}

/* The call's arguments; 0 where the inputs disagree with each other. `dims`, `rank`: y's. */
static int pw_gather(const PointwiseKernel *k, OrtKernelContext *ctx, pw_args *a, int64_t *dims, size_t *rank)
{
    void *data[PW_INPUTS];
    size_t count[PW_INPUTS];
    int64_t pixels = 1;
    for (int i = PW_INPUTS - 1; i >= 0; i--)       /* x last: its dims stay in `dims` */
        if (!input(k->api, ctx, i, pw_input_types[i], &data[i], &count[i], dims, rank))
            return 0;
    if (*rank < 2 || *rank > 4 || dims[*rank - 1] < 4 || count[PW_SCALE_IN] < 1)
        return 0;
    for (size_t i = 0; i + 1 < *rank; i++) {
        if (dims[i] < 0 || (dims[i] > 0 && pixels > ((1LL << 31) - 1) / dims[i]))
            return 0;
        pixels *= dims[i];
    }
    *a = (pw_args){.m = (int)pixels, .k = (int)dims[*rank - 1], .n = (int)count[PW_SCALE_IN], .fma = k->fma,
                   .act_lo = k->act_lo, .act_hi = k->act_hi, .x = data[PW_X_IN], .w = data[PW_W_IN], .scale = data[PW_SCALE_IN],
                   .bias = data[PW_BIAS_IN], .corr = data[PW_CORR_IN]};
    if (pw_check(a) != NULL || count[PW_BIAS_IN] != (size_t)a->n || count[PW_CORR_IN] != (size_t)a->n
        || count[PW_W_IN] != (size_t)((a->n + 15) / 16) * a->k * 16)
        return 0;
    dims[*rank - 1] = a->n;
    return 1;
}

/* The fused ops' extra input and output (NHWC only): r, of y's shape, and q; 0 where r disagrees. */
static int pw_fused(const PointwiseKernel *k, OrtKernelContext *ctx, pw_args *a, const int64_t *dims, size_t rank)
{
    int64_t r_dims[MAX_RANK];
    size_t r_rank = 0, r_count = 0;
    void *r = NULL;
    if (rank != 4)
        return 0;
    if (k->mode == PW_ADD_Q) {
        if (!input(k->api, ctx, PW_R_IN, T_FLOAT, &r, &r_count, r_dims, &r_rank) || r_rank != rank
            || memcmp(r_dims, dims, rank * sizeof dims[0]))
            return 0;
        a->r = r;
    }
    a->qscale = k->qscale;
    a->q = output_data(k->api, ctx, 1, dims, rank);
    return a->q != NULL || (size_t)a->m * a->n == 0;
}

typedef struct {
    const pw_args *a;
    size_t tasks;
} PointwiseJob;

static void pw_task(void *user, size_t index)
{
    const PointwiseJob *job = user;
    pw_run_task(job->a, index, job->tasks);
}

/* The output: x's shape with C for K, or empty where the inputs do not fit (this ABI cannot fail a call). */
static void pw_compute(void *op_kernel, OrtKernelContext *ctx)
{
    const PointwiseKernel *k = op_kernel;
    pw_args a;
    int64_t dims[MAX_RANK] = {0};
    size_t rank = 0;
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    int good = k->ok && dw_cpu_supported() && pw_gather(k, ctx, &a, dims, &rank);
    if (good && k->mode != PW_PLAIN)
        good = pw_fused(k, ctx, &a, dims, rank);
    if (!good) {
        rank = 1, dims[0] = 0;
        if (k->mode != PW_PLAIN)
            output_data(k->api, ctx, 1, dims, rank);
    }
    void *y = output_data(k->api, ctx, 0, dims, rank);
    if (good && a.m > 0 && y != NULL) {
        a.y = y;
        size_t tiles = ((size_t)a.m + PW_TILE - 1) / PW_TILE;
        PointwiseJob job = {&a, (size_t)k->parts < tiles ? (size_t)k->parts : tiles};
        if (job.tasks <= 1 || parallel_api == NULL
            || !release(k->api, ORT(parallel_api, KernelContext_ParallelFor, ParallelFor)(ctx, pw_task, job.tasks,
                                                                                       0, &job)))
            pw_run_task(&a, 0, 1);
    }
}

static const char *pw_name(const OrtCustomOp *op) { return pw_names[pw_mode(op)]; }
static size_t pw_input_count(const OrtCustomOp *op) { return PW_INPUTS + (pw_mode(op) == PW_ADD_Q); }
static int pw_input_type(const OrtCustomOp *op, size_t i) { return i < pw_input_count(op) ? pw_input_types[i] : 0; }
static int pw_output_type(const OrtCustomOp *op, size_t i) { (void)op; return i == 0 ? T_FLOAT : T_UINT8; }
static size_t pw_output_count(const OrtCustomOp *op) { return pw_mode(op) == PW_PLAIN ? 1 : 2; }

#define PW_OP {ORT_API_VERSION_USED, pw_create, pw_name, op_provider, pw_input_type, pw_input_count, pw_output_type, \
               pw_output_count, pw_compute, destroy, op_required, op_required}
static const OrtCustomOp pointwise_ops[PW_MODES] = {PW_OP, PW_OP, PW_OP};
#undef PW_OP
