"""Net / Extractor: the pip ncnn API over our graph, executed by onnxruntime (sessions cached)."""
import os

import numpy as np
import onnxruntime as ort

from ncnnlike.errors import NcnnlikeError
from ncnnlike.runtime.lower import lower_graph
from ncnnlike.runtime.staged import host_layers, run_staged


class Option:
    """Subset of ncnn.Option that means something here; other ncnn options are accepted and ignored."""

    def __init__(self):
        self.num_threads = os.cpu_count() or 1
        self.use_int8_inference = True   # int8 simulated bit-exactly; "fast": integer kernels (layers/int8.py)
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
        self._shapes = {}
        self._host = {}

    @classmethod
    def from_graph(cls, graph):
        net = cls()
        net.graph = graph
        return net

    def load_param(self, path):
        from ncnnlike.io.param import read_param
        self.graph = read_param(path)
        self._sessions.clear()
        self._host.clear()
        return 0

    def load_model(self, path):
        from ncnnlike.io.bin import read_bin
        if self.graph is None:
            raise NcnnlikeError("%s: load_param must come before load_model" % path)
        read_bin(self.graph, path)
        self._sessions.clear()
        return 0

    def input_names(self):
        return self.graph.input_names()

    def output_names(self):
        return self.graph.output_names()

    def blob_shape(self, blob):
        """ncnn shape (no batch) of a blob in the most recent run."""
        return self._shapes[blob]

    def create_extractor(self):
        return Extractor(self)

    def clear(self):
        self._sessions.clear()
        self._host.clear()

    def _session(self, input_shapes, outputs, probe=None):
        spin = int(self.opt.openmp_blocktime) > 0
        key = (tuple(sorted(input_shapes.items())), tuple(outputs), str(self.opt.use_int8_inference),
               int(self.opt.num_threads), spin, probe)
        if key not in self._sessions:
            model, names, ctx = lower_graph(self.graph, input_shapes, outputs, int8=self.opt.use_int8_inference,
                                          probe=probe)
            so = ort.SessionOptions()
            so.intra_op_num_threads = max(1, int(self.opt.num_threads))
            so.inter_op_num_threads = 1
            so.log_severity_level = 3
            if not spin:
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
            self._sessions[key] = (sess, names, {b: ctx.shape(b) for b in ctx.blobs()})
        sess, names, self._shapes = self._sessions[key]
        return sess, names

    def run(self, inputs, outputs, probe=None, out=None):
        """Batch API: inputs blob -> array (N, *ncnn shape); returns blob -> array (N, *shape).

        With `probe` (see runtime.lower.lower_graph; it must be hashable, e.g. a module-level
        function, as it keys the session cache) each blob maps to the list of probe results.
        With `out` (blob -> C-contiguous float32 array of the output's shape, e.g. from a previous
        run), the outputs are written into those arrays, which are returned: a loop that reuses
        them allocates nothing per batch. A graph with host layers (detection outputs, see
        runtime/staged.py) runs in stages; an output whose size differs between samples is then
        a list of N arrays."""
        if self.graph is None:
            raise NcnnlikeError("no model loaded")
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in inputs.items()}
        if self._has_host(tuple(outputs), tuple(feeds)):
            if out is not None:
                raise NcnnlikeError("Net.run: out= cannot be used with a graph that has host layers")
            return run_staged(self.graph, self._run_batch, feeds, list(outputs), probe)
        return self._run_batch(feeds, list(outputs), probe, out)

    def _has_host(self, outputs, available):
        """Whether computing `outputs` from `available` blobs needs a host layer (cached)."""
        key = (outputs, available)
        if key not in self._host:
            self._host[key] = bool(host_layers(self.graph, outputs, available))
        return self._host[key]

    def _run_batch(self, feeds, outputs, probe=None, out=None):
        """One onnxruntime run of the lowered graph on batch arrays."""
        shapes = {k: tuple(v.shape[1:]) for k, v in feeds.items()}
        sess, names = self._session(shapes, list(outputs), probe)
        needed = {i.name for i in sess.get_inputs()}
        feeds = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feeds.items() if k in needed}
        if out is not None:
            if probe is not None:
                raise NcnnlikeError("Net.run: out= cannot be combined with a probe")
            return self._run_into(sess, names, feeds, outputs, out)
        result = sess.run(names, feeds)
        if probe is None:
            return dict(zip(outputs, result))
        grouped = {blob: [] for blob in outputs}
        for name, value in zip(names, result):
            grouped[name[4:name.rindex(":")]].append(value)
        return grouped

    def _run_into(self, sess, names, feeds, outputs, out):
        """Run with onnxruntime's IOBinding, writing every output into the caller's array."""
        batch = next(iter(feeds.values())).shape[0] if feeds else 1
        binding = sess.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, value)
        for name, blob in zip(names, outputs):
            array = out.get(blob)
            expected = (batch,) + tuple(self._shapes[blob])
            if array is None or array.dtype != np.float32 or array.shape != expected \
                    or not array.flags.c_contiguous or not array.flags.writeable:
                raise NcnnlikeError("Net.run: out['%s'] must be a writable C-contiguous float32 array of shape %s"
                                    % (blob, expected))
            binding.bind_output(name, "cpu", 0, np.float32, list(expected), array.ctypes.data)
        sess.run_with_iobinding(binding)
        return {blob: out[blob] for blob in outputs}


class Extractor:
    """One inference: `input(name, array)` then `extract(name)` -> numpy array (ncnn shape)."""

    def __init__(self, net):
        self.net = net
        self._inputs = {}
        self._cache = {}

    def input(self, name, array):
        if name not in self.net.graph.input_names():
            raise NcnnlikeError("'%s' is not an input blob of this model" % name)
        self._inputs[name] = np.asarray(array, dtype=np.float32)[None]
        self._cache.clear()
        return 0

    def extract(self, name):
        if name not in self._cache:
            self._cache[name] = self.net.run(self._inputs, [name])[name][0]
        return self._cache[name]
