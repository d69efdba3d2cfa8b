"""Per-sample cost of calibration's pieces on Lite0, and pip ncnn as the alternative engine.

    python tools/calib_engines.py [--samples 30]

Prints, per sample (random inputs; ms of wall and of CPU for this process):
  onnxruntime 1 thread: the network output alone, pass 1 (min/max of the 50 measured blobs reduced
      in the graph), pass 2 (the 50 blobs into reused arrays), binning them (stats.Histogram);
  the same passes on 2 worker threads with one intra-op thread each (what calibrate.py does) and on
      one run with 2 intra-op threads (what it did before);
  pip ncnn 1 thread: an extractor extracting the 50 blobs in order and reducing each to its absmax
      (ncnn2table's pass 1 in Python), then the same on 2 Python threads;
and the peak RSS after each engine (pip ncnn's first, before onnxruntime is imported). Then, at 1
thread, onnxruntime's own optimized model saved (optimized_model_filepath) and loaded again with
optimizations off, for the plain network, pass 1's graph and the 50 blobs out as they come (NCHW, 49
ReorderOutput nodes), and the last two with runtime/reorders.py's edits (the blobs reduced or taken
out in onnxruntime's blocked NCHWc layout): what leaving the layout costs, and what the optimized
graph costs when onnxruntime does not optimize it at load.
The floor of any engine: the conv layers' multiply-adds at this CPU's one-thread fp32 GEMM peak.
Then pass 1 with other in-graph reductions (probe_rows): the 50 blobs merely exposed (a Shape node
each: every consumer outside the NCHWc-aware ops makes onnxruntime reorder the blob out of its
layout), GlobalMaxPool (max only, in the layout), Abs + GlobalMaxPool, and max with -min through a
-1 depthwise convolution: the floor of pass 1 in onnxruntime. Last, two alternatives from the
registries that are not dependencies, each skipped when not installed: OpenVINO as the engine (the
network alone, pass 1, the 50 blobs out) and binning by a kernel numba compiles (its counts checked
against ours; the CPU and peak RSS that importing numba and compiling the kernel add to a process).
 The question it answers: would running pip ncnn itself (ncnn's
own inference, 93 MB in ncnn2table) make calibration faster or smaller than onnxruntime does?
"""
import argparse
import os
import resource
import sys
import threading
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.common import LITE0, machine_header, openvino_request  # noqa: E402

PARAM, BIN = os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin")


def timed(label, work, samples, workers=1):
    """Run work(i) for i < samples on `workers` threads; print ms of wall and CPU per sample."""
    items, lock = iter(range(samples)), threading.Lock()

    def loop():
        while True:
            with lock:
                i = next(items, None)
            if i is None:
                return
            work(i)
    start, cpu = time.perf_counter(), time.process_time()
    threads = [threading.Thread(target=loop) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("| %s | %.1f | %.1f |" % (label, (time.perf_counter() - start) / samples * 1e3,
                                   (time.process_time() - cpu) / samples * 1e3), flush=True)


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def gemm_floor_row():
    """The network's multiply-adds per sample at this CPU's one-thread fp32 peak (onnxruntime's MatMul
    at 2048^3, the best of ~0.3 s): no engine runs Lite0's layers faster than their GEMMs at it."""
    from tools.eq_bound import layer_cost, lite0_specs, matmul_seconds
    _, specs = lite0_specs()
    macs = sum(layer_cost(spec, top)["macs"] for _, spec, top in specs)
    rate = 2048 ** 3 / matmul_seconds((2048, 2048), (2048, 2048), "fp32", 1)
    print("| the conv layers' %.0f M multiply-adds at the 1-thread fp32 peak (%.1f GMAC/s, MatMul 2048^3) | "
          "%.1f | |" % (macs / 1e6, rate / 1e9, macs / rate * 1e3), flush=True)


def onnxruntime_rows(graph, xs, samples):
    from ncnnlike.quant import calibrate as C
    from ncnnlike.quant.stats import Histogram
    from ncnnlike.runtime import Net
    unique = list(dict.fromkeys(C.measured_blobs(graph).values()))
    last = [list(graph)[-1].tops[0]]
    for intra, workers in ((1, 1), (1, 2), (2, 1)):
        net = Net.from_graph(graph)
        net.opt.num_threads, net.opt.use_int8_inference, net.opt.openmp_blocktime = intra, False, 0
        shapes = C._RunShapes(net)
        arrays = threading.local()
        label = "onnxruntime, %d worker%s x %d intra-op thread%s" % (workers, "s"[:workers > 1], intra,
                                                                    "s"[:intra > 1])

        def out(i):
            if not hasattr(arrays, "a"):
                arrays.a = C._OutputArrays(shapes)
            return net.run(xs[i % len(xs)], unique, out=arrays.a.get(xs[i % len(xs)]))
        if (intra, workers) == (1, 1):
            net.run(xs[0], last)
            timed(label + ": network output alone", lambda i: net.run(xs[i % len(xs)], last), samples)
        net.run(xs[0], unique, probe=C.extrema_probe)
        timed(label + ": pass 1", lambda i: net.run(xs[i % len(xs)], unique, probe=C.extrema_probe), samples, workers)
        blobs = out(0)
        timed(label + ": pass 2, the blobs out", out, samples, workers)
        absmax = {b: float(np.abs(v).max()) for b, v in blobs.items()}
        if (intra, workers) == (1, 1):
            timed("binning the 50 blobs (1 thread)",
                  lambda i: [Histogram(absmax[b]).update(v) for b, v in blobs.items()], samples)
        C.release_sessions(net)
    print("| peak RSS after the onnxruntime rows too | %d MB | |" % peak_mb())


def _inline(model, external):
    """The lowered model's bytes with its external weights inside (an optimized copy is saved)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load_from_string(model)
    have = {init.name: init for init in m.graph.initializer}
    for name, array in external:
        tensor = numpy_helper.from_array(array, name)
        have[name].CopyFrom(tensor) if name in have else m.graph.initializer.append(tensor)
    return m


def _saved_session(model, folder, label, level_all=True):
    """onnxruntime's optimized model of `model` saved, then loaded with optimizations off."""
    import onnxruntime as ort

    def options(level):
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.log_severity_level, so.graph_optimization_level = 1, 3, level
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return so
    so = options(ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    so.optimized_model_filepath = os.path.join(folder, label + ".onnx")
    first = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    again = ort.InferenceSession(so.optimized_model_filepath, options(ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
                                 providers=["CPUExecutionProvider"])
    return first, again


def _edited_session(path, kind):
    """(session, reorders removed): the saved model at `path` with runtime/reorders.py's edit `kind`
    ("outputs": before the graph outputs; "probes": before per-sample min/max), loaded unoptimized."""
    import onnxruntime as ort
    from ncnnlike.runtime.reorders import edited_pieces
    with open(path, "rb") as f:
        pieces, removed = edited_pieces(f.read(), kind)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.log_severity_level = 1, 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(b"".join(pieces), so, providers=["CPUExecutionProvider"]), removed


def _lowered_cases(graph):
    """(label, output count, probe, the lowered ModelProto with its weights inside) of the graphs both
    saved_model_rows and openvino_rows run: the network output alone, pass 1's, the 50 blobs out."""
    from ncnnlike.quant import calibrate as C
    from ncnnlike.runtime.lower import lower_to_bytes
    unique = list(dict.fromkeys(C.measured_blobs(graph).values()))
    cases = (("network output alone", [list(graph)[-1].tops[0]], None), ("pass 1", unique, C.extrema_probe),
             ("the 50 blobs out", unique, None))
    for label, outs, probe in cases:
        model, _, _, external = lower_to_bytes(graph, {graph.input_names()[0]: (3, 224, 224)}, outs, int8=False,
                                               probe=probe)
        yield label, len(outs), probe, _inline(model, external)


def saved_model_rows(graph, xs, samples):
    import tempfile
    name = graph.input_names()[0]
    with tempfile.TemporaryDirectory() as folder:
        for label, count, probe, model in _lowered_cases(graph):
            first, again = _saved_session(model, folder, label.replace(" ", "_"))
            for tag, sess in (("optimized at load", first), ("saved, reloaded unoptimized", again)):
                feed = sess.get_inputs()[0].name
                sess.run(None, {feed: xs[0][name]})
                timed("1 thread, %s: %s" % (tag, label), lambda i: sess.run(None, {feed: xs[i % len(xs)][name]}),
                      samples)
            if count > 1:
                kind = "outputs" if probe is None else "probes"
                sess, removed = _edited_session(os.path.join(folder, label.replace(" ", "_") + ".onnx"), kind)
                feed = sess.get_inputs()[0].name
                sess.run(None, {feed: xs[0][name]})
                timed("1 thread, saved, reorders before the %s removed (%d): %s" % (kind, removed, label),
                      lambda i: sess.run(None, {feed: xs[i % len(xs)][name]}), samples)


def _pooled(ctx, blob, x, fallback, make):
    """A probe of a 3-D blob (N, C, H, W) through `make(x)`, reduced to one value per sample; other
    blobs go through `fallback`."""
    if len(ctx.shape(blob)) != 3:
        return fallback(ctx, blob, x)
    return [ctx.op("ReduceMax", [ctx.op("Flatten", [t], axis=1)], axes=[1], keepdims=0) for t in make(ctx, x)]


def _exposed_only(ctx, blob, x):
    """Each blob consumed by one cheap node (its Shape), nothing reduced: the cost of a graph whose 50
    blobs have a consumer outside the network, whatever that consumer computes."""
    return [ctx.op("Shape", [x])]


def _max_pool(ctx, blob, x):
    """The per-sample maximum through GlobalMaxPool, one of the few reductions onnxruntime's NCHWc
    layout runs in place (no reorder of the blob): max only, not the min pass 1 needs."""
    from ncnnlike.quant import calibrate as C
    return _pooled(ctx, blob, x, C.extrema_probe, lambda ctx, x: [ctx.op("GlobalMaxPool", [x])])


def _abs_max_pool(ctx, blob, x):
    """absmax alone through Abs then GlobalMaxPool."""
    from ncnnlike.quant import calibrate as C
    return _pooled(ctx, blob, x, C.extrema_probe,
                   lambda ctx, x: [ctx.op("GlobalMaxPool", [ctx.op("Abs", [x])])])


def _negated_max_pool(ctx, blob, x):
    """max and -min, both through GlobalMaxPool, the min of the negated blob (a 1x1 depthwise
    convolution of weight -1, which stays in the NCHWc layout)."""
    import numpy as np
    from ncnnlike.quant import calibrate as C

    def make(ctx, x):
        c = ctx.shape(blob)[0]
        neg = ctx.op("Conv", [x, ctx.const(np.full((c, 1, 1, 1), -1, np.float32), "neg")], group=c,
                     kernel_shape=[1, 1])
        return [ctx.op("GlobalMaxPool", [x]), ctx.op("GlobalMaxPool", [neg])]
    return _pooled(ctx, blob, x, C.extrema_probe, make)


def probe_rows(graph, xs, samples):
    """Pass 1 probes other than ours, at 1 thread: what reducing the 50 blobs in the graph can cost at
    best in onnxruntime."""
    from ncnnlike.quant import calibrate as C
    from ncnnlike.runtime import Net
    unique = list(dict.fromkeys(C.measured_blobs(graph).values()))
    rows = (("ours (ReduceMin + ReduceMax, in NCHWc in the reloaded saved model)", C.extrema_probe),
            ("the 50 blobs only exposed (a Shape node each)", _exposed_only),
            ("max only, GlobalMaxPool (in NCHWc)", _max_pool),
            ("absmax only, Abs + GlobalMaxPool", _abs_max_pool),
            ("max and -min, GlobalMaxPool of the blob and of a -1 depthwise conv", _negated_max_pool))
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference, net.opt.openmp_blocktime = 1, False, 0
    for label, probe in rows:
        net.run(xs[0], unique, probe=probe)
        timed("onnxruntime, 1 thread, pass 1 probe: " + label, lambda i: net.run(xs[i % len(xs)], unique, probe=probe),
              samples)
        C.release_sessions(net)


def ncnn_rows(graph, xs, samples):
    import ncnn
    from ncnnlike.quant.calibrate import measured_blobs
    from ncnnlike.runtime.ncnn_backend import plain_net
    blobs = list(dict.fromkeys(measured_blobs(graph).values()))
    net = plain_net(ncnn, 1)
    net.load_param(PARAM)
    net.load_model(BIN)
    name = graph.input_names()[0]

    def absmax(i):
        x = xs[i % len(xs)][name][0]
        ex = net.create_extractor()
        ex.input(name, ncnn.Mat(x))          # x stays referenced: ncnn.Mat(ndarray) does not copy
        return [float(np.abs(np.asarray(ex.extract(b)[1])).max()) for b in blobs]
    absmax(0)
    timed("pip ncnn, 1 thread: extract the 50 blobs + absmax", absmax, samples)
    timed("pip ncnn, 2 Python threads: the same", absmax, samples, 2)
    print("| pip ncnn peak RSS (with our graph loaded and onnxruntime imported, not run) | %d MB | |" % peak_mb())


def openvino_rows(graph, xs, samples):
    """OpenVINO (the openvino wheel, not a dependency: skipped without it) as the calibration engine,
    1 thread, on the same lowered graphs: the network output alone, pass 1's graph, the 50 blobs out."""
    import tempfile
    name = graph.input_names()[0]
    with tempfile.TemporaryDirectory() as folder:
        for label, _, _, model in _lowered_cases(graph):
            path = os.path.join(folder, "model.onnx")
            with open(path, "wb") as f:
                f.write(model.SerializeToString())
            request = openvino_request(path, 1)
            if request is None:
                print("| openvino rows skipped: the openvino package is not installed | | |")
                return
            request.infer({0: xs[0][name]})
            timed("openvino, 1 thread: " + label, lambda i: request.infer({0: xs[i % len(xs)][name]}), samples)


NUMBA_KERNEL = """
import numpy as np
from numba import njit


@njit(nogil=True, boundscheck=False)
def counts(values, width, buf, lanes):
    # floor(min(|v| / width, 2047)) of a chunk into buf, then counted in 4 interleaved histograms
    n, size = values.size, buf.size
    top = np.float32(2047.0)
    for s in range(0, n, size):
        e = min(n, s + size)
        for i in range(s, e):
            buf[i - s] = np.uint16(min(abs(values[i]) / width, top))
        m = s + (e - s) // 4 * 4
        for i in range(s, m, 4):
            lanes[0, buf[i - s]] += 1
            lanes[1, buf[i - s + 1]] += 1
            lanes[2, buf[i - s + 2]] += 1
            lanes[3, buf[i - s + 3]] += 1
        for i in range(m, e):
            lanes[0, buf[i - s]] += 1
"""


def numba_binning_rows(graph, xs, samples):
    """Binning by a kernel compiled at run time by numba (a registry wheel; not a dependency: skipped
    without it): the same counts as stats.Histogram on one sample's 50 blobs, its time a sample, and
    what importing numba and compiling the kernel cost a fresh process (CPU and peak RSS)."""
    import subprocess
    # the peak from /proc (VmHWM, this program's own): ru_maxrss survives exec, it would be ours
    script = ("import resource\n"
              "hwm = lambda: int([x for x in open('/proc/self/status') if x.startswith('VmHWM')][0].split()[1])\n"
              "r0, m0 = resource.getrusage(resource.RUSAGE_SELF), hwm()\n" + NUMBA_KERNEL +
              "counts(np.ones(9, np.float32), np.float32(0.5), np.empty(4, np.uint16), np.zeros((4, 2048), np.int64))\n"
              "r1 = resource.getrusage(resource.RUSAGE_SELF)\n"
              "cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime\n"
              "print('%.0f %d' % (cpu * 1e3, (hwm() - m0) // 1024))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    if done.returncode != 0:
        print("| numba rows skipped: %s | | |" % (done.stderr.strip().splitlines() or ["no output"])[-1])
        return
    cpu_ms, rss_mb = done.stdout.split()
    print("| numba: importing it and compiling the kernel in a fresh process | %s ms of CPU | +%s MB peak RSS |"
          % (cpu_ms, rss_mb))
    space = {}
    exec(NUMBA_KERNEL, space)
    from ncnnlike.quant import calibrate as C
    from ncnnlike.quant.stats import Histogram, _bin_width
    from ncnnlike.runtime import Net
    unique = list(dict.fromkeys(C.measured_blobs(graph).values()))
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 1, False
    blobs = net.run(xs[0], unique)
    absmax = {b: float(np.abs(v).max()) for b, v in blobs.items()}
    buf, lanes = np.empty(1 << 14, np.uint16), np.zeros((4, 2048), np.int64)

    def compiled(i):
        out = {}
        for b, v in blobs.items():
            lanes[:] = 0
            space["counts"](v.reshape(-1), _bin_width(absmax[b]), buf, lanes)
            out[b] = lanes.sum(axis=0)
        return out
    ours = {b: Histogram(absmax[b]) for b in blobs}
    for b, v in blobs.items():
        ours[b].update(v)
    got = compiled(0)
    same = all(np.array_equal(got[b][1:], ours[b].counts[1:].astype(np.int64)) for b in blobs)
    print("| numba kernel counts == stats.Histogram's on the 50 blobs (bins 1..2047) | %s | |" % same)
    timed("binning the 50 blobs (1 thread): stats.Histogram", lambda i: [Histogram(absmax[b]).update(v)
                                                                         for b, v in blobs.items()], samples)
    timed("binning the 50 blobs (1 thread): numba kernel", compiled, samples)
    C.release_sessions(net)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    from ncnnlike.io.model import load_model
    graph = load_model(PARAM, BIN)
    rng = np.random.default_rng(0)
    xs = [{graph.input_names()[0]: rng.random((1, 3, 224, 224), np.float32) * 2 - 1} for _ in range(4)]
    for line in machine_header("1,2"):
        print(line)
    print("\n| per sample | wall ms | CPU ms |\n|---|---|---|")
    ncnn_rows(graph, xs, args.samples)       # first: its peak RSS before onnxruntime is imported
    gemm_floor_row()
    onnxruntime_rows(graph, xs, args.samples)
    saved_model_rows(graph, xs, args.samples)
    probe_rows(graph, xs, args.samples)
    openvino_rows(graph, xs, args.samples)
    numba_binning_rows(graph, xs, args.samples)


if __name__ == "__main__":
    main()
