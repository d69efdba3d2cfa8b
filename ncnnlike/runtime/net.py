"""Net / Extractor: the pip ncnn API over our graph, executed by onnxruntime (sessions cached), or
by pip ncnn itself in the exact int8 mode (runtime/ncnn_backend.py).

net.opt.use_int8_inference, for layers with int8 weights or scales (layers/int8.py):
  True or "fast"  the default: onnxruntime's integer kernels (layers/int8_fast.py), within the
                  deviation from ncnn its docstring states (+-1 on a few requantized values)
  "exact"         ncnn's answers exactly: pip ncnn runs the model, one sample at a time
  "sim"           ncnn's int8 arithmetic emulated with onnxruntime float ops (layers/int8_sim.py):
                  exact for each int8 layer, not for ncnn's fast-math float layers around them; batched
  False           float: stored int8 weights run as their float view w_q / w_scale
"""
import os
import threading
from collections import namedtuple

import numpy as np

from ncnnlike.errors import (NcnnlikeError, NcnnlikeKeyError, NcnnlikeUsageError, NcnnlikeValueError)
from ncnnlike.io.limits import check_size
from ncnnlike.layers import dw_vnni
from ncnnlike.runtime.lower import lower_to_bytes, uses_custom_ops
from ncnnlike.runtime.staged import host_layers, run_staged


INT8_MODES = (False, True, "fast", "exact", "sim")
# A reloaded session (runtime/reloaded.py) owns a copy of every weight, where one optimized at load
# uses ours in place except those it rearranges: used up to this much weight (Lite0, 18 MB: 10 MB
# smaller; VGG16, 553 MB: 480 MB larger and 6.3 s to build instead of 1.9).
RELOAD_MAX_BYTES = 32 << 20

# One cached onnxruntime session: its output names, blob shapes, largest blob, and input names
# (passed along with each run, so that threads running different sessions of one Net do not mix them).
_Session = namedtuple("_Session", "sess names shapes external largest inputs")


def int8_mode(value):
    """use_int8_inference normalized to False, "fast", "exact" or "sim" (True means "fast")."""
    if not value:
        return False
    return "fast" if value is True or value == 1 else value


class Option:
    """Subset of ncnn.Option that means something here; other ncnn options are accepted and ignored."""

    def __setattr__(self, name, value):
        if name == "use_int8_inference" and not any(value == m and type(value) in (type(m), int)
                                                    for m in INT8_MODES):
            raise NcnnlikeValueError("use_int8_inference=%r: expected True or 'fast', 'exact', 'sim', or False"
                                     % (value,))
        super().__setattr__(name, value)

    def __init__(self):
        self.num_threads = os.cpu_count() or 1
        self.use_int8_inference = True   # True / "fast", "exact", "sim", False: the module docstring
        self.lightmode = True
        self.use_fp16_storage = False
        self.use_fp16_arithmetic = False
        self.use_fp16_packed = False
        self.use_packing_layout = True
        self.use_vulkan_compute = False
        self.openmp_blocktime = 20      # ms; 0: idle worker threads sleep at once instead of spinning


class Net:
    """An ncnn model ready to run: `load_param` + `load_model`, or `from_graph`."""

    def __init__(self):
        self.opt = Option()
        self.graph = None
        self._param_path = None
        self._sessions = {}
        self._shapes = {}             # blob -> shape of the most recent run (blob_shape)
        self._lock = threading.Lock()   # the session cache: Net.run may be called from several threads
        self._host = {}
        self._ncnn = None         # (options key, pip ncnn Net) of the exact mode

    @classmethod
    def from_graph(cls, graph):
        net = cls()
        net.graph = graph
        return net

    def load_param(self, path):
        from ncnnlike.io.param import read_param
        self.graph = read_param(path)
        self.clear()
        return 0

    def load_model(self, path):
        from ncnnlike.io.bin import read_bin
        if self.graph is None:
            raise NcnnlikeError("%s: load_param must come before load_model" % path)
        read_bin(self.graph, path)
        self.clear()
        return 0

    def input_names(self):
        return self._loaded("input_names").input_names()

    def output_names(self):
        return self._loaded("output_names").output_names()

    def _loaded(self, what):
        """The graph, or the usage error of an API call made before load_param."""
        if self.graph is None:
            raise NcnnlikeUsageError("%s(): no model loaded: call load_param and load_model first" % what)
        return self.graph

    def blob_shape(self, blob):
        """ncnn shape (no batch) of a blob in the most recent run."""
        if blob not in self._shapes:
            raise NcnnlikeKeyError("blob_shape('%s'): no such blob in the most recent run" % (blob,))
        return self._shapes[blob]

    def create_extractor(self):
        return Extractor(self)

    def clear(self):
        self._sessions.clear()
        self._host.clear()
        self._ncnn = None

    def _session(self, input_shapes, outputs, probe=None, pattern=True, any_order=False):
        """The cached onnxruntime session for these inputs, outputs and options. `pattern` off: no
        memory pattern (for runs into the caller's arrays: onnxruntime's planned block then only
        doubles what the first run allocated; measured on Lite0's 50 calibration blobs, 26 MB; and
        for probes, whose reductions keep blobs alive past the plan: Lite0's calibration probe
        grew 26 MB over 10 runs with it, none without)."""
        spin = int(self.opt.openmp_blocktime) > 0
        mode = int8_mode(self.opt.use_int8_inference)
        key = (tuple(sorted(input_shapes.items())), tuple(outputs), mode, int(self.opt.num_threads), spin, probe,
               pattern, any_order)
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = self._new_session(input_shapes, outputs, mode, spin, probe, pattern, any_order)
            record = self._sessions[key]
        self._shapes = record.shapes
        return record

    def _new_session(self, input_shapes, outputs, mode, spin, probe, pattern, any_order):
        """A session of the lowered graph. With a probe (calibration's pass 1), or outputs wanted in
        any order (pass 2: runtime/reorders.py), and at most RELOAD_MAX_BYTES of weights,
        onnxruntime's own saved optimized model loaded back (runtime/reloaded.py: faster and
        smaller), without the reorders that the probe's min and max or the outputs in any order
        do not need (runtime/reorders.py), when that works out."""
        import onnxruntime as ort
        model, names, ctx, external = lower_to_bytes(self.graph, input_shapes, outputs, int8=mode, probe=probe,
                                                     threads=max(1, int(self.opt.num_threads)))
        providers = ["CPUExecutionProvider"]
        custom = uses_custom_ops(ctx)
        sess = None
        if (probe is not None or any_order) and sum(array.nbytes for _, array in external) <= RELOAD_MAX_BYTES:
            from ncnnlike.runtime.reloaded import reloaded_session
            from ncnnlike.runtime.reorders import edited_pieces
            kind = "probes" if probe is not None else "outputs"   # the reorders neither needs go
            keep = () if any_order is True or probe is not None else \
                [name for name, blob in zip(names, outputs) if blob not in any_order]
            edit = lambda saved: edited_pieces(saved, kind, keep)[0]     # noqa: E731
            sess = reloaded_session(ort, model, self._options(ort, spin, pattern, external, custom),
                                    self._options(ort, spin, pattern, (), custom), providers, edit)
            if sess is not None and probe is None:      # the blocked tensors' names, in the outputs' order
                names = [o.name for o in sess.get_outputs()]
        reloaded = sess is not None
        if sess is None:
            try:
                sess = ort.InferenceSession(model, self._options(ort, spin, pattern, external, custom),
                                            providers=providers)
            except Exception as exc:   # onnxruntime refuses the lowered graph: one line, not its dump
                raise NcnnlikeError("onnxruntime cannot build the model: %s" % _ort_reason(exc)) from None
        # the external arrays stay referenced as long as a session built on them: onnxruntime reads
        # their memory (a reloaded session owns copies: they go)
        shapes = {b: ctx.shape(b) for b in ctx.blobs()}
        kept = () if reloaded else external
        return _Session(sess, names, shapes, kept, _largest(shapes), frozenset(i.name for i in sess.get_inputs()))

    def _options(self, ort, spin, pattern, external=(), custom=False):
        """onnxruntime SessionOptions for this net's threads; `external`: (name, array) weights handed
        to onnxruntime as external initializers, used in place (layers/onnx_bytes.py); `custom`: the
        graph has ncnnlike's custom ops (layers/dw_vnni.py), whose library the session loads."""
        so = ort.SessionOptions()
        so.intra_op_num_threads = max(1, int(self.opt.num_threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.enable_mem_pattern = pattern
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if external:
            so.add_external_initializers([name for name, _ in external],
                                         [ort.OrtValue.ortvalue_from_numpy(array) for _, array in external])
        if custom:
            dw_vnni.register(so)
        return so

    def run(self, inputs, outputs, probe=None, out=None, any_order=False):
        """Batch API: inputs blob -> array (N, *ncnn shape); returns blob -> array (N, *shape).

        With `probe` (see runtime.lower.lower_graph; it must be hashable, e.g. a module-level
        function, as it keys the session cache) each blob maps to the list of probe results.
        With `out` (blob -> C-contiguous float32 array of the output's shape, e.g. from a previous
        run), the outputs are written into those arrays, which are returned: a loop that reuses
        them allocates nothing per batch. With `any_order` too (True, or the blobs it applies to),
        each sample's values of a blob may come in another order (onnxruntime's blocked layout,
        runtime/reorders.py): for statistics that do not depend on it, such as histograms. A graph with host layers (detection outputs, see
        runtime/staged.py) runs in stages; an output whose size differs between samples is then
        a list of N arrays."""
        if self.graph is None:
            raise NcnnlikeUsageError("no model loaded: call load_param and load_model first")
        if not outputs:
            raise NcnnlikeValueError("Net.run: no output blob requested")
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        if int8_mode(self.opt.use_int8_inference) == "exact":
            return self._run_ncnn(feeds, list(outputs), probe, out)
        if self._has_host(tuple(outputs), tuple(feeds)):
            if out is not None:
                raise NcnnlikeError("Net.run: out= cannot be used with a graph that has host layers")
            return run_staged(self.graph, self._run_batch, feeds, list(outputs), probe)
        return self._run_batch(feeds, list(outputs), probe, out, any_order)

    def prepare(self, input_shapes, outputs, out=False, any_order=False):
        """Build now the onnxruntime session that run() will use for inputs of these per-sample
        shapes (blob -> ncnn shape), these outputs, with (`out`) or without caller's arrays and
        `any_order` as run() takes it: so that builds, which take memory for a moment, happen
        before runs hold theirs."""
        shapes = {blob: tuple(int(d) for d in shape) for blob, shape in input_shapes.items()}
        order = _any_order(any_order, outputs) if out else False
        self._session(shapes, list(outputs), None, pattern=not out, any_order=order)

    def _run_ncnn(self, feeds, outputs, probe, out):
        """The exact mode: pip ncnn runs the graph, loaded once per option set (ncnn_backend.py)."""
        from ncnnlike.runtime import ncnn_backend
        if probe is not None or out is not None:
            raise NcnnlikeUsageError("Net.run: probe= and out= need an onnxruntime mode, not "
                                     "use_int8_inference='exact'")
        key = (int(self.opt.num_threads), bool(self.opt.use_packing_layout), bool(self.opt.lightmode),
               int(self.opt.openmp_blocktime))
        if self._ncnn is None or self._ncnn[0] != key:
            self._ncnn = (key, ncnn_backend.load(self.graph, self.opt))
        result = ncnn_backend.run(self._ncnn[1], feeds, outputs)
        self._shapes = {k: v.shape[1:] for k, v in result.items() if isinstance(v, np.ndarray)}
        return result

    def _has_host(self, outputs, available):
        """Whether computing `outputs` from `available` blobs needs a host layer (cached)."""
        key = (outputs, available)
        if key not in self._host:
            self._host[key] = bool(host_layers(self.graph, outputs, available))
        return self._host[key]

    def _run_batch(self, feeds, outputs, probe=None, out=None, any_order=False):
        """One onnxruntime run of the lowered graph on batch arrays."""
        shapes = {k: tuple(v.shape[1:]) for k, v in feeds.items()}
        order = _any_order(any_order, outputs) if out is not None and probe is None else False
        record = self._session(shapes, list(outputs), probe, pattern=out is None and probe is None, any_order=order)
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items() if k in record.inputs}
        if out is not None:
            if probe is not None:
                raise NcnnlikeError("Net.run: out= cannot be combined with a probe")
            return _run_into(record, feeds, outputs, out)
        _check_batch(record, feeds)
        try:
            result = record.sess.run(record.names, feeds)
        except Exception as exc:   # e.g. an allocation the machine cannot make
            raise NcnnlikeError("onnxruntime cannot run the model: %s" % _ort_reason(exc)) from None
        if probe is None:
            return dict(zip(outputs, result))
        grouped = {blob: [] for blob in outputs}
        for name, value in zip(record.names, result):
            grouped[name[4:name.rindex(":")]].append(value)
        return grouped


def _any_order(any_order, outputs):
    """Net.run's any_order as a session key: True (every output), False, or the frozenset of the
    outputs that may come in any order."""
    if any_order is True or any_order is False or any_order is None:
        return bool(any_order)
    chosen = frozenset(blob for blob in outputs if blob in any_order)
    return True if chosen == frozenset(outputs) else (chosen or False)


def _check_batch(record, feeds):
    """Every blob of the whole batch within MAX_BATCH_BLOB_BYTES, checked before onnxruntime allocates."""
    batch = next(iter(feeds.values())).shape[0] if feeds else 1
    if record.largest is not None:
        blob, shape = record.largest
        check_size("blob '%s' of a batch of %d" % (blob, batch), (batch,) + tuple(shape),
                   "MAX_BATCH_BLOB_BYTES", 4, "bytes")


def _run_into(record, feeds, outputs, out):
    """Run with onnxruntime's IOBinding, writing every output into the caller's array."""
    batch = next(iter(feeds.values())).shape[0] if feeds else 1
    binding = record.sess.io_binding()
    for name, value in feeds.items():
        binding.bind_cpu_input(name, value)
    for name, blob in zip(record.names, outputs):
        array = out.get(blob)
        expected = (batch,) + tuple(record.shapes[blob])
        if array is None or array.dtype != np.float32 or array.shape != expected \
                or not array.flags.c_contiguous or not array.flags.writeable:
            raise NcnnlikeError("Net.run: out['%s'] must be a writable C-contiguous float32 array of shape %s"
                                % (blob, expected))
        binding.bind_output(name, "cpu", 0, np.float32, list(expected), array.ctypes.data)
    try:
        record.sess.run_with_iobinding(binding)
    except Exception as exc:   # as in Net._run_batch: one line, not onnxruntime's dump
        raise NcnnlikeError("onnxruntime cannot run the model: %s" % _ort_reason(exc)) from None
    return {blob: out[blob] for blob in outputs}


class Extractor:
    """One inference: `input(name, array)` then `extract(name)` -> numpy array (ncnn shape).

    As ncnn's extractor, it computes each blob once per input: the first extract() runs the graph
    once for the blob asked and every network output with it, and later extract() calls of those
    blobs are served from that run (a detector's output heads cost one run, not one each)."""

    def __init__(self, net):
        self.net = net
        self._inputs = {}
        self._blobs = {}

    def input(self, name, array):
        if self.net.graph is None:
            raise NcnnlikeUsageError("Extractor.input('%s'): no model loaded: call load_param and load_model first"
                                     % (name,))
        if name not in self.net.graph.input_names():
            raise NcnnlikeKeyError("'%s' is not an input blob of this model" % (name,))
        try:
            self._inputs[name] = np.asarray(array, dtype=np.float32)[None]
        except (TypeError, ValueError) as exc:
            raise NcnnlikeValueError("Extractor.input('%s'): not an array of numbers (%s)" % (name, exc)) from None
        self._blobs.clear()
        return 0

    def extract(self, name):
        if name not in self._blobs:
            self._blobs.update(self._compute(name))
        return self._blobs[name]

    def _compute(self, name):
        """The blob `name` and the network outputs not computed yet, from one run; the blob alone
        when the outputs cannot all be computed from the inputs given."""
        wanted = [name] + [b for b in self.net.output_names() if b != name and b not in self._blobs]
        try:
            result = self.net.run(self._inputs, wanted)
        except NcnnlikeError:
            if len(wanted) == 1:
                raise
            result = self.net.run(self._inputs, [name])
        return {blob: value[0] for blob, value in result.items()}


def _largest(shapes):
    """(blob, shape) of the most elements among {blob: ncnn shape}, or None: computed once per
    session, as Net.run checks it on every call (over Lite0's 80 blobs, 0.5 ms a run otherwise)."""
    if not shapes:
        return None
    return max(shapes.items(), key=lambda item: int(np.prod(item[1], dtype=np.float64)))


def _ort_reason(exc):
    """onnxruntime's message, shortened to its last informative line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(exc).__name__
