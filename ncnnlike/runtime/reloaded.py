"""A session of onnxruntime's own optimized model: optimized at load, saved, loaded back as it is.

For calibration's pass 1, whose graph reduces the 50 measured blobs to their min and max (a probe,
runtime/lower.py). onnxruntime runs the graph it saved in a better order than the one it optimized
in memory: each blob is reduced soon after it is made instead of being kept for the end. Measured on
Lite0 at 1 thread: 16.1-16.4 -> 13.3-14.4 ms a run (its profile: ReorderOutput 3.56 -> 2.27 ms,
Conv 12.52 -> 11.35), ~10 MB less resident per session and ~12 MB per concurrent run; model2table
aciq on 100 images with 2 workers: peak RSS 245-253 -> 199-206 MB; the same tables. A graph that
takes blobs out whole (pass 2) gains nothing measurable this way; both gain when the saved model is
edited before it is loaded back (runtime/reorders.py).

Costs a second session build (~60-80 ms), a temporary file of about the weights' size, and memory
for weights: the reloaded session owns a copy of every weight, where a session optimized at load
uses the caller's arrays in place except those it rearranges (VGG16, 553 MB of weights: 480 MB more
and 6.3 s to build instead of 1.9), so runtime/net.py uses it for small models only
(RELOAD_MAX_BYTES). When any step fails (no temporary space, a model beyond protobuf's 2 GB) the
caller builds the session the usual way.
"""
import os
import tempfile

from ncnnlike.runtime import heap


def reloaded_session(ort, model, first, second, providers, edit=None):
    """The session of onnxruntime's optimized model of `model` (bytes): built with the options
    `first` (graph optimizations on; the weights may be external initializers), saved by
    onnxruntime, changed by `edit` (its bytes -> a list of bytes-like pieces, e.g. from
    reorders.edited_pieces), loaded back with the options `second` (its optimization level is
    turned off here). None when that does not work out."""
    try:
        with tempfile.TemporaryDirectory(prefix="ncnnlike-") as folder:
            path = os.path.join(folder, "optimized.onnx")
            first.optimized_model_filepath = path
            ort.InferenceSession(model, first, providers=providers)    # saves the model, then goes
            second.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            if edit is not None:
                _edit_file(path, edit)
            session = ort.InferenceSession(path, second, providers=providers)
        heap.trim()     # the optimizing session and the edit are gone: their memory goes back
        return session
    except Exception:      # the caller's own build reports what is wrong with the model, if anything
        return None


def _edit_file(path, edit):
    """The file at `path` rewritten with the pieces `edit` makes of its bytes (slices of them where
    nothing changed): the model is in memory once, not in three or four copies while it is edited
    (Lite0's pass 1: those copies made model2table aciq peak 30 MB higher)."""
    with open(path, "rb") as f:
        saved = f.read()
    pieces = edit(saved)
    with open(path, "wb") as f:
        f.writelines(pieces)
