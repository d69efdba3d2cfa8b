"""Parity of the host (detection / ROI) layers with pip ncnn: explicit samples instead of the
perturbed copies of oracle.check_ncnn (a detection layer's inputs have constraints, e.g. softmax
scores), and detections compared as box sets (same count, labels, boxes and scores within
tolerance), then in ncnn's order where the scores are exact."""
import numpy as np

from oracle import make_model, run_ncnn, run_ours


def run_both(text, samples, folder, outputs=None):
    """Run the layer lines on each sample ({blob: array}) in pip ncnn and in ours (one batch);
    returns (ours, theirs, max abs diff of all values compared as arrays), per output a list per sample."""
    param, binfile, graph = make_model(text, folder)
    outputs = outputs or graph.output_names()
    feeds = {name: np.stack([np.asarray(s[name], np.float32) for s in samples]) for name in samples[0]}
    theirs = run_ncnn(param, binfile, feeds, outputs)
    ours = run_ours(param, binfile, feeds, outputs)
    return {k: [np.asarray(v) for v in ours[k]] for k in outputs}, theirs


def match_rows(got, ref, atol, rtol):
    """Pair each row of `ref` with a row of `got` (same label, values within tolerance), each row
    used once: detections as a set, whatever the order of equal scores. Returns (the ref rows left
    unmatched, the largest finite difference of a pair)."""
    free = list(range(len(got)))
    missing, worst = [], 0.0
    for row in ref:
        close = [k for k in free if got[k, 0] == row[0]
                 and np.allclose(got[k], row, atol=atol, rtol=rtol, equal_nan=True)]
        if not close:
            missing.append(row)
            continue
        free.remove(close[0])
        finite = np.isfinite(row)
        worst = max(worst, float(np.abs(got[close[0]][finite] - row[finite]).max(initial=0.0)))
    return missing, worst


def assert_same_detections(ours, theirs, atol, rtol, ordered=False):
    """Every sample: the same top shape, the same labels, boxes and scores within tolerance
    (as sets; also in ncnn's order with `ordered`). Returns the largest finite difference of a pair."""
    worst = 0.0
    for i, (got, ref) in enumerate(zip(ours, theirs)):
        assert got.shape == ref.shape, "sample %d: ours %s, ncnn %s" % (i, got.shape, ref.shape)
        if got.size == 0:
            continue
        if got.ndim != 2 or got.shape[1] != 6:      # YoloDetectionOutput's in-place top: a plain blob
            np.testing.assert_allclose(got, ref, atol=atol, rtol=rtol, err_msg="sample %d" % i)
            worst = max(worst, float(np.abs(got - ref).max()))
            continue
        missing, pair_worst = match_rows(got, ref, atol, rtol)
        assert not missing, "sample %d: %d ncnn detections unmatched, e.g. %s" % (i, len(missing), missing[0])
        worst = max(worst, pair_worst)
        if ordered:
            np.testing.assert_allclose(got, ref, atol=atol, rtol=rtol, err_msg="sample %d (ncnn's order)" % i)
    return worst


def assert_close(ours, theirs, atol, rtol):
    """Plain per-sample array comparison (ROI layers); returns the max abs difference."""
    worst = 0.0
    for i, (got, ref) in enumerate(zip(ours, theirs)):
        assert got.shape == ref.shape, "sample %d: ours %s, ncnn %s" % (i, got.shape, ref.shape)
        np.testing.assert_allclose(got, ref, atol=atol, rtol=rtol, err_msg="sample %d" % i)
        worst = max(worst, float(np.abs(got - ref).max()) if got.size else 0.0)
    return worst
