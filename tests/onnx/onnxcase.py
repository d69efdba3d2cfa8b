"""Small hand-built ONNX graphs checked three ways: onnxruntime on the source graph, our runtime on
the imported graph, and pip ncnn on the files we write (the real runtime: what users get).

Unlike test_importer.check, pip ncnn is compared with onnxruntime directly (not only with ours),
and int64 graph inputs (token ids) are fed to pip ncnn as int32 Mats, to ours as float values."""
import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from helpers import ncnn_extract, ncnn_net
from ncnnlike.io.model import save_model
from ncnnlike.onnx import import_onnx
from ncnnlike.onnx.importer import sanitize
from ncnnlike.runtime import Net

RNG = np.random.default_rng(12)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0] + "_node", **attrs)


def make(nodes, inputs, outputs, inits=None, opset=17, int_inputs=()):
    """A model: inputs {name: shape} (int64 for names in int_inputs), outputs [names]."""
    values = [helper.make_tensor_value_info(k, TensorProto.INT64 if k in int_inputs else TensorProto.FLOAT, v)
              for k, v in inputs.items()]
    g = helper.make_graph(nodes, "t", values, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def default_feeds(m, seed=0):
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in m.graph.input:
        dims = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
        if value.type.tensor_type.elem_type == TensorProto.INT64:
            feeds[value.name] = rng.integers(0, 10, dims).astype(np.int64)
        else:
            feeds[value.name] = rng.standard_normal(dims).astype(np.float32)
    return feeds


def onnxruntime_outputs(m, feeds):
    names = [o.name for o in m.graph.output]
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip([sanitize(o, "") for o in names], sess.run(names, feeds)))


def pip_ncnn_outputs(param, binary, feeds, outputs):
    """One sample per batch row: int64 inputs become int32 Mats (Embed reads int32)."""
    net = ncnn_net(param, binary)
    n = len(next(iter(feeds.values())))
    rows = []
    for i in range(n):
        sample = {k: (v[i].astype(np.int32) if v.dtype == np.int64 else v[i]) for k, v in feeds.items()}
        rows.append(ncnn_extract(net, sample, outputs))
    return {k: np.stack([r[k] for r in rows]) for k in outputs}


def ours_outputs(graph, feeds, outputs):
    net = Net.from_graph(graph)
    net.opt.num_threads = 1
    return net.run({k: v.astype(np.float32) for k, v in feeds.items()}, outputs)


def check(m, tmp_path, feeds=None, atol=1e-4, rtol=1e-4, shapes=None):
    """Import m; ours and pip ncnn each equal onnxruntime on every output. Returns the graph."""
    graph = import_onnx(m, shapes=shapes)
    feeds = default_feeds(m) if feeds is None else feeds
    want = onnxruntime_outputs(m, feeds)
    outputs = list(want)
    ours = ours_outputs(graph, feeds, outputs)
    param, binary = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binary)
    real = pip_ncnn_outputs(param, binary, feeds, outputs)
    for name in outputs:
        for label, got in (("ours", ours[name]), ("pip ncnn", real[name])):
            assert got.size == want[name].size, (label, name, got.shape, want[name].shape)
            np.testing.assert_allclose(got.ravel(), want[name].ravel().astype(np.float32), atol=atol, rtol=rtol,
                                       err_msg="%s %s" % (label, name))
    return graph


def types(graph):
    return [layer.type for layer in graph.layers]
