/* Histogram (domain "ncnnlike"), an op of the custom-op library _dw_vnni.c for calibration's pass 2
 * (quant/probes.py): a float tensor x (any shape, any order of its values) -> int64 (2050,):
 * the counts of ncnn2table's 2048 bins of |x| over [0, absmax] (exact zeros in bin 0), then the
 * count of exact zeros, then 1 if x holds a nan (the counts are then all 0), else 0.
 * Attribute: absmax (float, positive and finite). The blob is binned inside the graph that made it,
 * while it is in the cache, instead of being copied out for Python to bin; nothing else leaves.
 * Unlike the library's int8 ops it runs on any CPU (the kernel picks its instructions at load).
 * Included by _dw_vnni.c, after its declarations of onnxruntime's ABI. */
#include "../quant/_bins_kernel.h"

enum { T_INT64 = 7, HIST_OUT = NUM_BINS + 2 };

typedef struct {
    OrtApiTable *api;
    float absmax;
    int ok;
} HistogramKernel;

static void *h_create(const OrtCustomOp *op, OrtApiTable *api, const OrtKernelInfo *info)
{
    (void)op;
    HistogramKernel *k = calloc(1, sizeof(HistogramKernel));
    if (k == NULL)
        return NULL;
    k->api = api;
    k->ok = float_attribute(api, info, "absmax", &k->absmax) && k->absmax > 0.0f && !isinf(k->absmax);
    return k;
}

/* The output: (2050,), or empty where x cannot be read or absmax is bad (this ABI version cannot
 * fail a call; the caller checks the shape). */
static void h_compute(void *op_kernel, OrtKernelContext *ctx)
{
    const HistogramKernel *k = op_kernel;
    void *x = NULL;
    size_t count = 0, rank = 1;
    int64_t dims[MAX_RANK] = {0};
    if (k == NULL)            /* its creation ran out of memory: nothing can be reported */
        return;
    int good = k->ok && input(k->api, ctx, 0, T_FLOAT, &x, &count, dims, &rank);
    dims[0] = good ? HIST_OUT : 0;
    int64_t *counts = output_data(k->api, ctx, 0, dims, 1);
    if (good && counts != NULL) {
        memset(counts, 0, HIST_OUT * sizeof(int64_t));
        int64_t zeros = count > 0 ? bins_add(x, count, k->absmax, (float)NUM_BINS, counts) : 0;
        counts[NUM_BINS] = zeros < 0 ? 0 : zeros;
        counts[NUM_BINS + 1] = zeros < 0;
    }
}

static const char *h_name(const OrtCustomOp *op) { (void)op; return "Histogram"; }
static int h_input_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_FLOAT; }
static int h_output_type(const OrtCustomOp *op, size_t i) { (void)op; (void)i; return T_INT64; }
static size_t h_count(const OrtCustomOp *op) { (void)op; return 1; }

static const OrtCustomOp histogram_op = {ORT_API_VERSION_USED, h_create, h_name, op_provider, h_input_type, h_count,
                                         h_output_type, h_count, h_compute, destroy, op_required, op_required};
