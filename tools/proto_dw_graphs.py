"""ONNX graphs for tools/proto_dw_int8.py: Lite0's depthwise layers alone, variants of the whole fast
int8 graph, and the fast graph cut into onnxruntime segments around its depthwise convs. A
measurement aid, not package code (the onnx package builds the graphs)."""
import collections
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from ncnnlike.layers import int8 as int8mod, int8_fast
from ncnnlike.layers.base import resolve
from ncnnlike.runtime.lower import lower_graph, lower_shapes
from tools import common

NHWC, NCHW = [0, 2, 3, 1], [0, 3, 1, 2]
F32, U8, I8, I32 = 1, 2, 3, 6
NUMPY = {F32: np.float32, U8: np.uint8, I8: np.int8, I32: np.int32, 7: np.int64}


def ort_session(model, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, profile=None, counts=None):
    """One-thread session without spinning; `profile`: profile file prefix; `counts`: a Counter
    filled with the optimized graph's op types."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.graph_optimization_level = level
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile:
        so.enable_profiling, so.profile_file_prefix = True, profile
    path = None
    if counts is not None:
        fd, path = tempfile.mkstemp(suffix=".onnx")
        os.close(fd)
        so.optimized_model_filepath = path
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    if path:
        counts.update(n.op_type for n in onnx.load(path, load_external_data=False).graph.node)
        os.remove(path)
    return sess


def make_model(nodes, inputs, outputs, inits):
    """ModelProto; inits: TensorProtos or (name, array) pairs; outputs: names (types inferred)."""
    tensors = [t if isinstance(t, onnx.TensorProto) else numpy_helper.from_array(t[1], t[0]) for t in inits]
    g = helper.make_graph(nodes, "g", inputs, [onnx.ValueInfoProto(name=o) for o in outputs], tensors)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m


def dw_layers(pair):
    """Lite0's depthwise layers: dicts of name, p (params), L (int8.Int8Layer), shape, top, pads,
    w32/b32 (the fp32 model's weights)."""
    fp32 = {layer.name: layer for layer in common.our_net(common.FP32_PARAM, common.FP32_BIN, False, 1).graph.layers}
    out = dw_layers_of(common.our_net(*pair, True, 1))
    for d in out:
        f = fp32[d["name"]]
        d.update(w32=f.weight("weight_data").reshape(d["L"].weight.shape).astype(np.float32),
                 b32=f.weight("bias_data").astype(np.float32))
    return out


def _attrs(d):
    p = d["p"]
    return dict(group=d["shape"][0], kernel_shape=[p.kernel_h, p.kernel_w], strides=[p.stride_h, p.stride_w],
                pads=list(d["pads"]))


def _qlinear(d, kind):
    """NHWC in, QLinearConv + Clip as int8_fast lowers it, NHWC out; kind u8s8, u8u8 or s8s8."""
    c, h, w = d["shape"]
    L = d["L"]
    step, bias, _ = int8_fast.qlinear_bias(L)
    lo, hi = int8_fast.clip_bounds(L)
    weight, wz = L.weight.astype(np.int8), np.zeros(c, np.int8)
    zp, xtype = np.uint8(128), U8
    if kind == "u8u8":
        weight, wz = (weight.astype(np.int16) + 128).astype(np.uint8), np.full(c, 128, np.uint8)
    if kind == "s8s8":
        zp, xtype, lo, hi = np.int8(0), I8, np.int8(int(lo) - 128), np.int8(int(hi) - 128)
    inits = [("one", np.float32(1)), ("zp", zp), ("w", weight), ("ws", (step * L.s_top).astype(np.float32)),
             ("wz", wz), ("b", bias), ("lo", lo), ("hi", hi)]
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=NCHW),
             helper.make_node("QLinearConv", ["xt", "one", "zp", "w", "ws", "wz", "one", "zp", "b"], ["y"],
                              **_attrs(d)),
             helper.make_node("Clip", ["y", "lo", "hi"], ["yc"]),
             helper.make_node("Transpose", ["yc"], ["z"], perm=NHWC)]
    return make_model(nodes, [helper.make_tensor_value_info("x", xtype, [1, h, w, c])], ["z"], inits)


def layer_models(d):
    """{variant: (ModelProto, input kind "f32" | "u8" | "s8" | "u8 NCHW", optimization level)} for one layer."""
    c, h, w = d["shape"]
    Level = ort.GraphOptimizationLevel
    fp32 = make_model([helper.make_node("Conv", ["x", "w", "b"], ["y"], **_attrs(d)),
                       helper.make_node("Clip", ["y", "lo", "hi"], ["z"])],
                      [helper.make_tensor_value_info("x", F32, [1, c, h, w])], ["z"],
                      [("w", d["w32"]), ("b", d["b32"]), ("lo", np.float32(0)), ("hi", np.float32(6))])
    conv_integer = make_model(
        [helper.make_node("ConvInteger", ["x", "w", "zp", "zp"], ["y"], **_attrs(d))],
        [helper.make_tensor_value_info("x", U8, [1, c, h, w])], ["y"],
        [("w", (d["L"].weight.astype(np.int16) + 128).astype(np.uint8)), ("zp", np.uint8(128))])
    return {"fp32 Conv+ReLU6": (fp32, "f32", Level.ORT_ENABLE_ALL),
            "int8 u8s8 NHWC (fast path)": (_qlinear(d, "u8s8"), "u8", Level.ORT_ENABLE_ALL),
            "int8 u8u8 NHWC": (_qlinear(d, "u8u8"), "u8", Level.ORT_ENABLE_ALL),
            "int8 s8s8 NHWC": (_qlinear(d, "s8s8"), "s8", Level.ORT_ENABLE_ALL),
            "int8 u8s8 NCHW (EXTENDED)": (_qlinear(d, "u8s8"), "u8", Level.ORT_ENABLE_EXTENDED),
            "ConvInteger u8u8 NCHW": (conv_integer, "u8 NCHW", Level.ORT_ENABLE_ALL)}


def fast_model(pair):
    """(Net, the fast int8 ModelProto of Lite0 at batch 1 with its weights inline, output names)."""
    net = common.our_net(*pair, True, 1)
    model, names, _ = lower_graph(net.graph, {common.INPUT: (3, 224, 224)}, [common.OUTPUT], int8="fast")
    return net, model, names


def dw_pairs(model):
    """[(layer name, index of the depthwise QLinearConv or Conv, index of the Clip after it)]."""
    nodes = model.graph.node
    consumer = collections.defaultdict(list)
    for i, n in enumerate(nodes):
        for t in n.input:
            consumer[t].append(i)
    pairs = []
    for i, n in enumerate(nodes):
        if n.op_type in ("QLinearConv", "Conv") and any(a.name == "group" and a.i > 1 for a in n.attribute):
            weight = n.input[3] if n.op_type == "QLinearConv" else n.input[1]
            pairs.append((weight.rsplit("_wq" if n.op_type == "QLinearConv" else "_w", 1)[0], i,
                          consumer[n.output[0]][0]))
    return pairs


def _replace_pairs(model, make_nodes):
    """A copy of `model` whose depthwise QLinearConv + Clip pairs are replaced by make_nodes(name, q, clip)
    -> (nodes, [(name, array)] initializers)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    pairs = dw_pairs(m)
    nodes = list(m.graph.node)
    replaced = {}
    for name, qi, ci in pairs:
        new, inits = make_nodes(name, nodes[qi], nodes[ci])
        replaced[qi], replaced[ci] = new, []
        m.graph.initializer.extend(numpy_helper.from_array(a, n) for n, a in inits)
    del m.graph.node[:]
    for i, n in enumerate(nodes):
        m.graph.node.extend(replaced.get(i, [n]))
    return m


def net_variants(net, model):
    """{name: (ModelProto, "all" | "extended")}: the fast graph and its depthwise variants."""
    layers = {d["name"]: d for d in dw_layers_of(net)}
    inits = {t.name: t for t in model.graph.initializer}

    def u8u8(name, q, clip):
        w = numpy_helper.to_array(inits[q.input[3]])
        c = w.shape[0]
        new = [("%s_w_u8" % name, (w.astype(np.int16) + 128).astype(np.uint8)),
               ("%s_wz_u8" % name, np.full(c, 128, np.uint8))]
        qn = helper.make_node("QLinearConv", list(q.input[:3]) + [new[0][0], q.input[4], new[1][0]] + list(q.input[6:]),
                              list(q.output), name=q.name)
        qn.attribute.extend(q.attribute)
        return [qn, clip], new

    def fp32(name, q, clip):
        """q = x - 128 in float, Conv with w*scale_in and the bias, ReLU6 (capped where 6*s_top > 127),
        QuantizeLinear to q+128: no DequantizeLinear, which onnxruntime would pair with the
        QuantizeLinear and quantize the weights back."""
        d = layers[name]
        L = d["L"]
        k = {key: name + "_f_" + key for key in ("128", "w", "b", "lo", "hi", "s", "zp")}
        new = [(k["128"], np.float32(128)), (k["w"], (L.weight * L.scale_in[:, None, None, None]).astype(np.float32)),
               (k["b"], L.bias.astype(np.float32)), (k["lo"], np.float32(0)),
               (k["hi"], np.float32(min(6.0, 127.0 / float(L.s_top)))), (k["s"], np.float32(1) / L.s_top),
               (k["zp"], np.uint8(128))]
        t = [name + "_f_%d" % i for i in range(4)]
        return [helper.make_node("Cast", [q.input[0]], [t[0]], to=F32),
                helper.make_node("Sub", [t[0], k["128"]], [t[1]]),
                helper.make_node("Conv", [t[1], k["w"], k["b"]], [t[2]], **_attrs(d)),
                helper.make_node("Clip", [t[2], k["lo"], k["hi"]], [t[3]]),
                helper.make_node("QuantizeLinear", [t[3], k["s"], k["zp"]], [clip.output[0]])], new

    return {"fast int8, raw session (ORT_ENABLE_ALL)": (model, "all"),
            "fast int8, ORT_ENABLE_EXTENDED": (model, "extended"),
            "fast int8, u8u8 depthwise weights": (_replace_pairs(model, u8u8), "all"),
            "fast int8, fp32 depthwise (Cast, Sub, Conv, Clip, Q)": (_replace_pairs(model, fp32), "all"),
            "fast int8, depthwise removed": (without_depthwise(model), "all")}


def without_depthwise(model):
    """`model` with each depthwise conv and its Clip replaced by what keeps the shapes: Identity, or a
    1x1 MaxPool of stride 2 (kept in onnxruntime's NCHWc / NHWC layouts): what the rest costs."""
    def removed(name, q, clip):
        s = next(a.ints[0] for a in q.attribute if a.name == "strides")
        if s == 1:
            return [helper.make_node("Identity", [q.input[0]], [clip.output[0]])], []
        return [helper.make_node("MaxPool", [q.input[0]], [clip.output[0]], kernel_shape=[1, 1], strides=[s, s])], []

    return _replace_pairs(model, removed)


def dw_layers_of(net):
    """dw_layers without the fp32 weights, from an int8 Net."""
    ctx = lower_shapes(net.graph, {common.INPUT: (3, 224, 224)}, [common.OUTPUT])
    out = []
    for layer in net.graph.layers:
        if layer.type == "ConvolutionDepthWise":
            p = resolve(layer)
            shape = ctx.shape(layer.bottoms[0])
            pads, top = int8mod.conv_geometry(p, shape)
            out.append(dict(name=layer.name, p=p, L=int8mod.int8_layer(layer, p, shape), shape=shape, pads=pads,
                            top=top))
    return out


def tensor_types(model):
    """{tensor: (shape, numpy dtype)} of every node output: one unoptimized run on zeros."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    names = [o for n in m.graph.node for o in n.output]
    m.graph.output.extend(onnx.ValueInfoProto(name=o) for o in names)
    sess = ort_session(m, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    inp = model.graph.input[0]
    x = np.zeros([1] + [d.dim_value for d in inp.type.tensor_type.shape.dim[1:]], np.float32)
    types = {n: (r.shape, r.dtype) for n, r in zip(names, sess.run(names, {inp.name: x}))}
    types[inp.name] = (x.shape, x.dtype)
    return types


class Segmented:
    """The fast graph as onnxruntime segments between its depthwise convs, each run with IOBinding on
    preallocated buffers (no allocation per run); 4-D tensors cross the cuts NHWC (explicit
    Transposes that cancel against onnxruntime's own), so nothing is transposed at a cut. `kind`:
    "ort" (each depthwise QLinearConv + Clip in its own session), "numba" (proto_dw_numba.DW) or
    "none" (skipped: what the segments alone cost). Call with the (1, 3, 224, 224) input."""

    LABELS = {"ort": "onnxruntime, one session each", "numba": "numba kernel", "none": "none (segments only)"}

    def __init__(self, net, model, outputs, kind):
        self.label = self.LABELS[kind]
        nodes, pairs = list(model.graph.node), dw_pairs(model)
        inits = {t.name: t for t in model.graph.initializer}
        self.types = tensor_types(model)
        self.graph_in = model.graph.input[0].name
        self.buffers = {self.graph_in: np.zeros(self.types[self.graph_in][0], np.float32)}
        layers = {d["name"]: d for d in dw_layers_of(net)}
        bounds, start = [], 0
        for _, qi, ci in pairs:
            bounds.append((start, qi))
            start = ci + 1
        bounds.append((start, len(nodes)))
        self.steps = []
        for s, (a, b) in enumerate(bounds):
            later = {t for a2, b2 in bounds[s + 1:] for n in nodes[a2:b2] for t in n.input} | set(outputs)
            later |= {nodes[qi].input[0] for _, qi, _ in pairs[s:s + 1]}
            self.steps.append(self._segment(nodes[a:b], inits, later))
            if s < len(pairs):
                name, qi, ci = pairs[s]
                self.steps.append(self._depthwise(kind, layers[name], nodes[qi], nodes[ci], inits))
        self.out = self.buffers[outputs[0]]

    def _buffer(self, tensor):
        """The preallocated array of an interface tensor (4-D ones NHWC, named tensor + "_nhwc")."""
        shape, dtype = self.types[tensor]
        name = tensor + "_nhwc" if len(shape) == 4 and tensor != self.graph_in else tensor
        if name not in self.buffers:
            self.buffers[name] = np.empty([shape[i] for i in NHWC] if name != tensor else shape, dtype)
        return name, self.buffers[name]

    def _bound(self, model, ins, outs):
        sess = ort_session(model)
        binding = sess.io_binding()
        for name, array in ins:
            binding.bind_input(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
        for name, array in outs:
            binding.bind_output(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
        return lambda: sess.run_with_iobinding(binding)

    def _wrap(self, body, inits, ins, outs):
        """Model of `body` with NHWC interface tensors: a Transpose after each 4-D input, before each output."""
        pre, post, g_in, b_in, b_out = [], [], [], [], []
        for t in ins:
            name, array = self._buffer(t)
            if name != t:
                pre.append(helper.make_node("Transpose", [name], [t], perm=NCHW))
            g_in.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape))
            b_in.append((name, array))
        for t in outs:
            name, array = self._buffer(t)
            if name != t:
                post.append(helper.make_node("Transpose", [t], [name], perm=NHWC))
            b_out.append((name, array))
        used = {t for n in body for t in n.input}
        model = make_model(pre + body + post, g_in, [n for n, _ in b_out], [inits[n] for n in inits if n in used])
        return self._bound(model, b_in, b_out)

    def _segment(self, body, inits, later):
        produced = {o for n in body for o in n.output}
        ins = list(dict.fromkeys(t for n in body for t in n.input if t and t not in inits and t not in produced))
        outs = [o for n in body for o in n.output if o in later]
        return self._wrap(body, inits, ins, outs)

    def _depthwise(self, kind, d, q, clip, inits):
        if kind == "ort":
            return self._wrap([q, clip], inits, [q.input[0]], [clip.output[0]])
        if kind == "none":
            return lambda: None
        from tools import proto_dw_numba
        kernel = proto_dw_numba.DW(d["L"], d["shape"], d["top"], d["pads"], (d["p"].stride_h, d["p"].stride_w))
        x, y = self._buffer(q.input[0])[1], self._buffer(clip.output[0])[1]
        return lambda: kernel(x, y)

    def __call__(self, x):
        self.buffers[self.graph_in][...] = x
        for step in self.steps:
            step()
        return self.out
