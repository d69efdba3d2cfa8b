"""Calibration's reductions inside the runtime graph (Net.run probes, runtime/lower.py): each
measured blob is reduced in the graph that made it, by ops of ours in the custom-op library
layers/_dw_vnni.c that any CPU loads:
- pass 1, extrema_probe: ncnnlike.Extrema (layers/_extrema_op.h), each sample's min and max in one
  pass (onnxruntime's ReduceMin and ReduceMax, where the library was not built, take two);
- pass 2, HistogramProbe: ncnnlike.Histogram (layers/_histogram_op.h), the 2048 counts, the exact
  zeros and a nan flag of a run.

Why pass 2 in the graph: taking Lite0's 50 blobs out (27 MB a sample) cost the copies, the output
arrays each worker holds, and, to keep those within SEGMENT_BYTES, the graph cut in three segments,
each a session to build (quant/segments.py). Binned where they are made, the blobs are read once
while in the cache, pass 2 builds one session as pass 1 does, and holds no blob memory. The bins
are the same: the op runs quant/_bins_kernel.h, quant/bins.py's kernel, on |v| / absmax * 2048 in
float32. Both ops read onnxruntime's blocked layout as it is (runtime/reorders.py).

Where the library was not built (no C compiler), NCNNLIKE_CALIB_OPS=0, or samples of the blobs are
kept (method=auto, correct=), pass 2 takes the blobs out and bins them in Python, and pass 1
reduces with onnxruntime's ops."""
import os

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.dw_vnni import DOMAIN
from ncnnlike.quant.bins import NUM_BINS

EXTREMA_OP, HISTOGRAM_OP = "Extrema", "Histogram"
_NAN = "non-finite value (nan) in a calibration blob"


def available():
    """Whether our ops reduce in the graph here: the custom-op library is built and not turned off."""
    from ncnnlike.layers import dw_vnni
    return os.environ.get("NCNNLIKE_CALIB_OPS", "1") != "0" and dw_vnni.library_file() is not None


def measured_flat(ctx, blob, x):
    """(N, K) view of what ncnn2table reads of a blob: a 4-D blob's d axis is ignored (only d = 0)."""
    if len(ctx.shape(blob)) == 4:
        x = ctx.op("Gather", [x, ctx.ints(0)], axis=2)
    return ctx.op("Flatten", [x], axis=1)


def extrema_probe(ctx, blob, x):
    """Phase 1 in the graph: per-sample min and max of the measured blob."""
    flat = measured_flat(ctx, blob, x)
    if available():
        return ctx.op(EXTREMA_OP, [flat], n_out=2, domain=DOMAIN)
    return [ctx.op("ReduceMin", [flat], axes=[1], keepdims=0), ctx.op("ReduceMax", [flat], axes=[1], keepdims=0)]


class HistogramProbe:
    """A Net.run probe (runtime/lower.py) binning each measured blob over its phase-1 absmax: the
    blob's result is [int64 (2050,)] for the whole run; over an absmax of 0 (a blob phase 1 saw
    all zero) it is [per-sample max |v|], which must stay 0. Hashable: it keys the session cache."""

    def __init__(self, absmax):
        """absmax: blob -> its phase-1 absmax."""
        self.absmax = {blob: np.float32(value) for blob, value in absmax.items()}
        self._key = tuple(sorted((blob, float(value)) for blob, value in self.absmax.items()))

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, HistogramProbe) and self._key == other._key

    def __call__(self, ctx, blob, x):
        flat = measured_flat(ctx, blob, x)
        absmax = self.absmax[blob]
        if absmax == 0:
            return [ctx.op("ReduceMax", [ctx.op("Abs", [flat])], axes=[1], keepdims=0)]
        return [ctx.op(HISTOGRAM_OP, [flat], domain=DOMAIN, absmax=absmax)]

    def add_to(self, histogram, blob, result, values):
        """Add one run's `result` for `blob` to a stats.Histogram; `values`: the blob's measured
        values in the run (for the zeros over an absmax of 0)."""
        out = np.asarray(result[0])
        if self.absmax[blob] == 0:
            if np.any(out != 0):
                raise NcnnlikeError("histogram over absmax 0 received non-zero values (phase 1 saw other data)")
            histogram.zeros += int(values)
            return
        if out.shape != (NUM_BINS + 2,):
            raise NcnnlikeError("the Histogram op gave no counts for blob %s (its input was not float32)" % blob)
        if out[NUM_BINS + 1]:
            raise NcnnlikeError(_NAN)
        zeros = int(out[NUM_BINS])
        counts = out[:NUM_BINS].astype(np.uint64)
        counts[0] -= np.uint64(zeros)      # exact zeros landed in bin 0; ncnn skips them
        histogram.counts += counts
        histogram.zeros += zeros
