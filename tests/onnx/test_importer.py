"""ONNX importer, one family of converters per test: tiny hand-built graphs (onnx.helper) imported,
run in our runtime vs onnxruntime on the source graph, and our written files vs pip ncnn."""
import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import ncnn_extract, ncnn_net
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import save_model
from ncnnlike.onnx import import_onnx
from ncnnlike.onnx.importer import sanitize
from ncnnlike.runtime import Net

RNG = np.random.default_rng(7)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, name=outputs[0] + "_node", **attrs)


def make(nodes, inputs, outputs, inits=None, opset=17):
    """A model: inputs {name: shape}, outputs [names] (shapes left to inference), inits {name: array}."""
    g = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def run_pip_ncnn(graph, feeds, outputs, tmp_path):
    """Write our files and run them in the real ncnn (fp32 everywhere)."""
    param, binary = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binary)
    return ncnn_extract(ncnn_net(param, binary), {k: v[0] for k, v in feeds.items()}, outputs)


def check(m, tmp_path, feeds=None, atol=1e-4, ncnn_check=True):
    """Import `m`; ours == onnxruntime (atol) on every output; pip ncnn == ours. Returns the graph."""
    graph = import_onnx(m)
    if feeds is None:
        feeds = {}
        for value in m.graph.input:
            dims = [d.dim_value or 1 for d in value.type.tensor_type.shape.dim]
            feeds[value.name] = rand(*dims)
    names = [o.name for o in m.graph.output]
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = [sanitize(o, "") for o in names]          # blob names: whitespace replaced
    want = dict(zip(outputs, sess.run(names, feeds)))
    net = Net.from_graph(graph)
    net.opt.num_threads = 1
    ours = net.run(feeds, outputs)
    for name in outputs:
        assert ours[name].size == want[name].size, name
        np.testing.assert_allclose(ours[name].ravel(), want[name].ravel(), atol=atol, rtol=1e-4, err_msg=name)
    if ncnn_check:
        real = run_pip_ncnn(graph, feeds, outputs, tmp_path)
        for name in outputs:
            assert real[name].size == ours[name][0].size, name
            np.testing.assert_allclose(real[name].ravel(), ours[name][0].ravel(), atol=atol, rtol=1e-3, err_msg=name)
    return graph


def types(graph):
    return [layer.type for layer in graph.layers]


# --- convolution ---------------------------------------------------------------------------
@pytest.mark.parametrize("attrs, group", [
    (dict(pads=[1, 1, 1, 1]), 1),
    (dict(strides=[2, 1], pads=[0, 1, 2, 1], dilations=[1, 2]), 1),
    (dict(auto_pad="SAME_UPPER", strides=[2, 2]), 1),
    (dict(auto_pad="SAME_LOWER", strides=[2, 2]), 1),
    (dict(pads=[1, 1, 1, 1]), 2),
    (dict(pads=[1, 1, 1, 1], strides=[2, 2]), 8),
])
def test_conv_params_and_groups_match_onnxruntime(tmp_path, attrs, group):
    w, b = rand(8, 8 // group, 3, 3), rand(8)
    m = make([node("Conv", ["x", "w", "b"], ["y"], group=group, **attrs)], {"x": [1, 8, 9, 10]}, ["y"],
             {"w": w, "b": b})
    graph = check(m, tmp_path)
    conv = graph.layers[1]
    assert conv.type == ("Convolution" if group == 1 else "ConvolutionDepthWise")
    if group > 1:
        assert conv.params[7] == group
    if "auto_pad" in attrs:
        assert conv.params[4] == (-233 if attrs["auto_pad"] == "SAME_UPPER" else -234)


def test_conv1d_runs_as_height_one_convolution(tmp_path):
    m = make([node("Conv", ["x", "w"], ["y"], pads=[1, 2], strides=[2])], {"x": [1, 4, 17]}, ["y"],
             {"w": rand(6, 4, 3)})
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "Reshape", "Convolution"]


@pytest.mark.parametrize("attrs, group", [
    (dict(strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]), 1),
    (dict(strides=[2, 2]), 2),
    (dict(strides=[2, 2], pads=[1, 1, 1, 1]), 4),
])
def test_conv_transpose_weight_transposed_per_group(tmp_path, attrs, group):
    m = make([node("ConvTranspose", ["x", "w", "b"], ["y"], group=group, **attrs)], {"x": [1, 4, 5, 6]},
             ["y"], {"w": rand(4, 8 // group, 3, 3), "b": rand(8)})
    graph = check(m, tmp_path)
    assert graph.layers[1].type == ("Deconvolution" if group == 1 else "DeconvolutionDepthWise")


# --- activations, softmax ------------------------------------------------------------------
def test_activations_and_fanout_split(tmp_path):
    """One input read by every activation: a Split with <blob>_splitncnn_<k> tops feeds them."""
    acts = [("Relu", {}), ("LeakyRelu", dict(alpha=0.1)), ("Sigmoid", {}), ("HardSigmoid", dict(alpha=0.3)),
            ("HardSwish", {}), ("Tanh", {}), ("Elu", dict(alpha=0.7)), ("Mish", {}),
            ("Clip", {}), ("Abs", {}), ("Neg", {}), ("Exp", {})]
    nodes, outs, inits = [], [], {"lo": np.float32(-0.5), "hi": np.float32(0.75)}
    for op, attrs in acts:
        inputs = ["x", "lo", "hi"] if op == "Clip" else ["x"]
        nodes.append(node(op, inputs, ["y_" + op], **attrs))
        outs.append("y_" + op)
    nodes.append(node("PRelu", ["x", "slope"], ["y_PRelu"]))
    inits["slope"] = rand(4, 1, 1)
    outs.append("y_PRelu")
    graph = check(make(nodes, {"x": [1, 4, 5, 6]}, outs, inits, opset=18), tmp_path, atol=2e-4)
    split = graph.layers[1]
    assert split.type == "Split" and split.bottoms == ["x"]
    assert split.tops == ["x_splitncnn_%d" % k for k in range(len(acts) + 1)]
    assert graph.layer("y_HardSwish_node").params[0] == pytest.approx(1 / 6)


def test_gelu_opset20(tmp_path):
    m = make([node("Gelu", ["x"], ["y"]), node("Gelu", ["x"], ["z"], approximate="tanh")],
             {"x": [1, 3, 4, 5]}, ["y", "z"], opset=20)
    graph = check(m, tmp_path)
    assert [l.params.get(0, 0) for l in graph.layers if l.type == "GELU"] == [0, 1]


def test_clip_attributes_opset6_and_relu6(tmp_path):
    m = make([node("Clip", ["x"], ["y"], min=0.0, max=6.0)], {"x": [1, 2, 3, 3]}, ["y"], opset=6)
    graph = check(m, tmp_path, feeds={"x": rand(1, 2, 3, 3, scale=5)})
    assert graph.layers[1].params == {0: 0.0, 1: 6.0}


@pytest.mark.parametrize("shape, axis", [([1, 5, 3, 4], 1), ([1, 5, 3, 4], -1), ([1, 7], 1), ([1, 3, 6], 2)])
def test_softmax_axis_maps_to_ncnn_axis(tmp_path, shape, axis):
    m = make([node("Softmax", ["x"], ["y"], axis=axis)], {"x": shape}, ["y"])
    graph = check(m, tmp_path)
    assert graph.layers[1].params[0] == axis % len(shape) - 1 and graph.layers[1].params[1] == 1


# --- elementwise ---------------------------------------------------------------------------
def test_binary_ops_scalars_constants_and_broadcast(tmp_path):
    nodes = [node("Add", ["x", "bias"], ["a"]),                 # constant [C,1,1] -> MemoryData
             node("Mul", ["a", "two"], ["m"]),                  # scalar -> with_scalar
             node("Sub", ["one", "m"], ["s"]),                  # scalar first -> RSUB
             node("Div", ["s", "x"], ["d"]),                    # tensor / tensor
             node("ReduceMean", ["x"], ["g"], axes=[2, 3], keepdims=1),
             node("Mul", ["g", "x"], ["se"]),                   # [1,C,1,1] * [1,C,H,W]
             node("Max", ["se", "d", "x"], ["mx"]),             # n-ary chain
             node("Pow", ["x", "two"], ["p"]),
             node("Add", ["x", "row"], ["r"])]                  # constant [W] broadcast
    inits = {"bias": rand(3, 1, 1), "two": np.array(2.0, np.float32), "one": np.array([1.0], np.float32),
             "row": rand(5)}
    m = make(nodes, {"x": [1, 3, 4, 5]}, ["mx", "p", "r"], inits, opset=13)
    feeds = {"x": (np.abs(rand(1, 3, 4, 5)) + 0.5).astype(np.float32)}
    graph = check(m, tmp_path, feeds=feeds)
    ops = {l.tops[0]: dict(l.params) for l in graph.layers if l.type == "BinaryOp"}
    assert ops["m"] == {0: 2, 1: 1, 2: 2.0}
    assert ops["s"] == {0: 7, 1: 1, 2: 1.0}
    assert "MemoryData" in types(graph)


def test_squeeze_excite_with_global_pool_reshapes_for_broadcast(tmp_path):
    """GlobalAveragePool gives ncnn (C,); the Conv after it gets a Reshape to (C, 1, 1)."""
    nodes = [node("GlobalAveragePool", ["x"], ["g"]),
             node("Conv", ["g", "w1", "b1"], ["c1"]), node("Relu", ["c1"], ["r"]),
             node("Conv", ["r", "w2", "b2"], ["c2"]), node("HardSigmoid", ["c2"], ["h"], alpha=1 / 6),
             node("Mul", ["x", "h"], ["y"])]
    inits = {"w1": rand(2, 8, 1, 1), "b1": rand(2), "w2": rand(8, 2, 1, 1), "b2": rand(8)}
    graph = check(make(nodes, {"x": [1, 8, 6, 6]}, ["y"], inits), tmp_path)
    assert types(graph) == ["Input", "Split", "Pooling", "Reshape", "Convolution", "ReLU", "Convolution",
                            "HardSigmoid", "BinaryOp"]


# --- pooling, reduction --------------------------------------------------------------------
@pytest.mark.parametrize("op, attrs, mode", [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), 1),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 0),
    ("AveragePool", dict(kernel_shape=[2, 3], strides=[2, 2], pads=[1, 0, 0, 1]), 1),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1), 1),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), 0),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"), 2),
])
def test_pooling_pad_modes_match_onnxruntime(tmp_path, op, attrs, mode):
    m = make([node(op, ["x"], ["y"], **attrs)], {"x": [1, 3, 10, 12]}, ["y"])
    graph = check(m, tmp_path)
    assert graph.layers[1].params.get(5, 0) == mode


def test_global_pool_flatten_gemm_needs_no_reshape(tmp_path):
    nodes = [node("GlobalMaxPool", ["x"], ["g"]), node("Flatten", ["g"], ["f"]),
             node("Gemm", ["f", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)]
    graph = check(make(nodes, {"x": [1, 6, 5, 5]}, ["y"], {"w": rand(4, 6), "b": rand(4)}), tmp_path)
    assert types(graph) == ["Input", "Pooling", "InnerProduct"]


@pytest.mark.parametrize("op, axes, keepdims, opset", [
    ("ReduceMean", [2, 3], 1, 18), ("ReduceSum", [1], 0, 13), ("ReduceMax", [-1], 1, 13),
    ("ReduceMin", [1, 2], 0, 13), ("ReduceL2", [3], 1, 13), ("ReduceMean", None, 1, 13),
])
def test_reductions_axes_from_attribute_or_input(tmp_path, op, axes, keepdims, opset):
    as_input = axes is not None and (opset >= 18 or op == "ReduceSum")
    inputs, inits, attrs = ["x"], {}, dict(keepdims=keepdims)
    if as_input:
        inputs.append("axes")
        inits["axes"] = np.array(axes, np.int64)
    elif axes is not None:
        attrs["axes"] = axes
    m = make([node(op, inputs, ["y"], **attrs)], {"x": [1, 3, 4, 5]}, ["y"], inits, opset=opset)
    graph = check(m, tmp_path)
    assert graph.layers[1].type == "Reduction" and graph.layers[1].params[5] == 1


# --- gemm, matmul --------------------------------------------------------------------------
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_to_inner_product(tmp_path, trans_b):
    w = rand(5, 7) if trans_b else rand(7, 5)
    m = make([node("Gemm", ["x", "w", "c"], ["y"], transB=trans_b, alpha=1.5, beta=0.5)], {"x": [1, 7]},
             ["y"], {"w": w, "c": rand(1, 5)})
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "InnerProduct"]


def test_matmul_constant_weight_and_dynamic(tmp_path):
    nodes = [node("MatMul", ["x", "w"], ["a"]),             # (T, K) rows -> InnerProduct
             node("Transpose", ["a"], ["at"], perm=[0, 2, 1]),
             node("MatMul", ["a", "at"], ["y"]),            # dynamic x dynamic -> MatMul
             node("MatMul", ["x4", "w"], ["z"])]            # 3-D blob -> MatMul + MemoryData
    m = make(nodes, {"x": [1, 4, 6], "x4": [1, 2, 3, 6]}, ["y", "z"], {"w": rand(6, 5)})
    graph = check(m, tmp_path)
    assert types(graph).count("InnerProduct") == 1 and types(graph).count("MatMul") == 2


# --- shape ops -----------------------------------------------------------------------------
def test_reshape_from_folded_shape_glue(tmp_path):
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape folds to constants (batch fixed to 1)."""
    nodes = [node("Shape", ["x"], ["s"]), node("Gather", ["s", "i0"], ["n"], axis=0),
             node("Unsqueeze", ["n", "ax0"], ["n1"]), node("Concat", ["n1", "m1"], ["shape"], axis=0),
             node("Reshape", ["x", "shape"], ["f"]), node("Relu", ["f"], ["y"])]
    inits = {"i0": np.array(0, np.int64), "ax0": np.array([0], np.int64), "m1": np.array([-1], np.int64)}
    m = make(nodes, {"x": ["N", 3, 4, 5]}, ["y"], inits, opset=13)
    graph = check(m, tmp_path)
    assert types(graph) == ["Input", "Reshape", "ReLU"] and graph.layers[1].params == {0: 60}


@pytest.mark.parametrize("perm", [[0, 1, 3, 2], [0, 2, 1, 3], [0, 2, 3, 1], [0, 3, 1, 2], [0, 3, 2, 1]])
def test_transpose_3d_permute_orders(tmp_path, perm):
    graph = check(make([node("Transpose", ["x"], ["y"], perm=perm)], {"x": [1, 2, 3, 4]}, ["y"]), tmp_path)
    assert graph.layers[1].type == "Permute"


@pytest.mark.parametrize("perm", [[0, 2, 1, 4, 3], [0, 4, 3, 2, 1], [0, 3, 1, 4, 2], [0, 2, 4, 1, 3]])
def test_transpose_4d_permute_orders(tmp_path, perm):
    check(make([node("Transpose", ["x"], ["y"], perm=perm)], {"x": [1, 2, 3, 4, 5]}, ["y"]), tmp_path)


def test_squeeze_unsqueeze_concat_split_slice(tmp_path):
    nodes = [node("Concat", ["x", "k"], ["c"], axis=1),                       # constant operand
             node("Split", ["c", "sizes"], ["s0", "s1"], axis=1),
             node("Slice", ["s1", "st", "en", "ax"], ["sl"]),
             node("Unsqueeze", ["sl", "u"], ["un"]), node("Squeeze", ["un", "u"], ["sq"]),
             node("Concat", ["s0", "s0"], ["cw"], axis=-1), node("Identity", ["cw"], ["idn"]),
             node("Dropout", ["idn"], ["y"])]
    inits = {"k": rand(1, 2, 4, 5), "sizes": np.array([1, 4], np.int64), "st": np.array([1, -3], np.int64),
             "en": np.array([100, -1], np.int64), "ax": np.array([1, 3], np.int64), "u": np.array([2], np.int64)}
    m = make(nodes, {"x": [1, 3, 4, 5]}, ["sq", "y"], inits, opset=13)
    graph = check(m, tmp_path)
    assert {"Concat", "Slice", "Crop", "MemoryData"} <= set(types(graph))
    assert "y" in graph.output_names()


# --- normalization, resize, pad ------------------------------------------------------------
def test_batchnorm_and_layernorm(tmp_path):
    nodes = [node("BatchNormalization", ["x", "g", "b", "mu", "var"], ["bn"], epsilon=1e-3),
             node("Reshape", ["bn", "shape"], ["r"]),
             node("LayerNormalization", ["r", "lg", "lb"], ["y"], axis=-1, epsilon=1e-5)]
    inits = {"g": rand(4), "b": rand(4), "mu": rand(4), "var": np.abs(rand(4)) + 0.1,
             "shape": np.array([1, 4, 30], np.int64), "lg": rand(30), "lb": rand(30)}
    graph = check(make(nodes, {"x": [1, 4, 5, 6]}, ["y"], inits), tmp_path)
    assert types(graph) == ["Input", "BatchNorm", "Reshape", "LayerNorm"]


@pytest.mark.parametrize("attrs, sizes", [
    (dict(mode="nearest"), None),
    (dict(mode="linear"), None),
    (dict(mode="linear", coordinate_transformation_mode="align_corners"), [1, 3, 9, 13]),
    (dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), [1, 3, 7, 5]),
])
def test_resize_to_interp(tmp_path, attrs, sizes):
    if sizes is None:
        inputs, inits = ["x", "", "scales"], {"scales": np.array([1, 1, 2, 2], np.float32)}
    else:
        inputs, inits = ["x", "", "", "sizes"], {"sizes": np.array(sizes, np.int64)}
    graph = check(make([node("Resize", inputs, ["y"], **attrs)], {"x": [1, 3, 4, 6]}, ["y"], inits), tmp_path)
    assert graph.layers[1].type == "Interp"


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_to_padding(tmp_path, mode):
    inits = {"pads": np.array([0, 1, 2, 1, 0, 0, 1, 2], np.int64), "v": np.array(0.5, np.float32)}
    inputs = ["x", "pads", "v"] if mode == "constant" else ["x", "pads"]
    graph = check(make([node("Pad", inputs, ["y"], mode=mode)], {"x": [1, 3, 4, 5]}, ["y"], inits), tmp_path)
    assert graph.layers[1].type == "Padding"


# --- more converters, one graph each: (op nodes, inputs, outputs, initializers, opset) --------
MORE = {
    "deconv_same_upper": ([node("ConvTranspose", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
                          {"x": [1, 4, 5, 6]}, ["y"], {"w": rand(4, 3, 3, 3)}, 17),
    "deconv_output_shape": ([node("ConvTranspose", ["x", "w"], ["y"], output_shape=[10, 13], strides=[2, 2])],
                            {"x": [1, 4, 5, 6]}, ["y"], {"w": rand(4, 3, 3, 3)}, 17),
    "deconv_dilated": ([node("ConvTranspose", ["x", "w"], ["y"], dilations=[2, 1], pads=[1, 0, 2, 1], strides=[1, 2])],
                       {"x": [1, 4, 5, 6]}, ["y"], {"w": rand(4, 3, 3, 3)}, 17),
    "deconv_1d": ([node("ConvTranspose", ["x", "w"], ["y"], strides=[2], pads=[1, 0])],
                  {"x": [1, 4, 7]}, ["y"], {"w": rand(4, 3, 3)}, 17),
    "log_softmax": ([node("LogSoftmax", ["x"], ["y"], axis=1)], {"x": [1, 5, 3]}, ["y"], {}, 13),
    "mean_of_three": ([node("Mean", ["x", "x", "c"], ["y"])], {"x": [1, 2, 3, 4]}, ["y"], {"c": rand(4)}, 13),
    "upsample_opset9": ([node("Upsample", ["x", "s"], ["y"], mode="nearest")], {"x": [1, 2, 3, 4]}, ["y"],
                        {"s": np.array([1, 1, 2, 3], np.float32)}, 9),
    "clip_min_only": ([node("Clip", ["x", "lo"], ["y"])], {"x": [1, 2, 3, 4]}, ["y"], {"lo": np.float32(0.1)}, 13),
    "output_is_input_cast_expand": ([node("Cast", ["x"], ["c"], to=1), node("Expand", ["c", "sh"], ["y"])],
                                    {"x": [1, 2, 3, 4]}, ["y"], {"sh": np.array([1, 2, 3, 4], np.int64)}, 13),
    "reduce_all_no_keepdims": ([node("ReduceSum", ["x"], ["y"], keepdims=0)], {"x": [1, 2, 3, 4]}, ["y"], {}, 13),
    "global_pool_1d": ([node("GlobalAveragePool", ["x"], ["y"])], {"x": [1, 3, 7]}, ["y"], {}, 17),
    "maxpool_1d": ([node("MaxPool", ["x"], ["y"], kernel_shape=[3], strides=[2], pads=[1, 1])],
                   {"x": [1, 3, 9]}, ["y"], {}, 17),
    "prelu_shared": ([node("PRelu", ["x", "s"], ["y"])], {"x": [1, 3, 4, 4]}, ["y"],
                     {"s": np.array([0.2], np.float32)}, 17),
    "prelu_1d": ([node("PRelu", ["x", "s"], ["y"])], {"x": [1, 5]}, ["y"], {"s": rand(5)}, 17),
    "layernorm_two_axes": ([node("LayerNormalization", ["x", "g", "b"], ["y"], axis=2)], {"x": [1, 3, 4, 5]},
                           ["y"], {"g": rand(4, 5), "b": rand(4, 5)}, 17),
    "batchnorm_2d_blob": ([node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"])], {"x": [1, 3, 7]}, ["y"],
                          {"g": rand(3), "b": rand(3), "m": rand(3), "v": np.abs(rand(3)) + 0.1}, 17),
    "transpose_moves_batch_and_back": ([node("Transpose", ["x"], ["t"], perm=[1, 0, 2]),
                                        node("Transpose", ["t"], ["u"], perm=[1, 0, 2]), node("Relu", ["u"], ["y"])],
                                       {"x": [1, 3, 7]}, ["y"], {}, 17),
    "bilinear_down_by_sizes": ([node("Resize", ["x", "", "", "sz"], ["y"], mode="linear")], {"x": [1, 2, 8, 8]},
                               ["y"], {"sz": np.array([1, 2, 5, 3], np.int64)}, 17),
    "bicubic_2x": ([node("Resize", ["x", "", "sc"], ["y"], mode="cubic")], {"x": [1, 2, 4, 4]}, ["y"],
                   {"sc": np.array([1, 1, 2, 2], np.float32)}, 17),
    "nearest_3x": ([node("Resize", ["x", "", "sc"], ["y"], mode="nearest")], {"x": [1, 2, 4, 4]}, ["y"],
                   {"sc": np.array([1, 1, 3, 3], np.float32)}, 17),
    "pad_1d": ([node("Pad", ["x", "p"], ["y"])], {"x": [1, 5]}, ["y"], {"p": np.array([0, 2, 0, 1], np.int64)}, 13),
    "pad_2d_reflect": ([node("Pad", ["x", "p"], ["y"], mode="reflect")], {"x": [1, 4, 5]}, ["y"],
                       {"p": np.array([0, 1, 2, 0, 2, 1], np.int64)}, 13),
    "concat_constant_1d": ([node("Concat", ["x", "c"], ["y"], axis=1)], {"x": [1, 4]}, ["y"], {"c": rand(1, 3)}, 17),
    "div_by_constant_tensor": ([node("Div", ["x", "c"], ["y"])], {"x": [1, 3, 4, 5]}, ["y"],
                               {"c": np.abs(rand(1, 3, 1, 5)) + 1}, 17),
    "sub_constant_first": ([node("Sub", ["c", "x"], ["y"])], {"x": [1, 3, 4, 5]}, ["y"], {"c": rand(3, 4, 1)}, 17),
    "add_both_sides_broadcast": ([node("Add", ["a", "b"], ["y"])], {"a": [1, 3, 1, 5], "b": [1, 1, 4, 1]}, ["y"],
                                 {}, 17),
    "reduce_batch_and_channel_no_keepdims": ([node("ReduceMean", ["x"], ["r"], axes=[0, 1], keepdims=0),
                                              node("Relu", ["r"], ["y"])], {"x": [1, 2, 3, 4]}, ["y"], {}, 13),
    "squeeze_all_after_global_pool": ([node("GlobalAveragePool", ["x"], ["g"]), node("Squeeze", ["g"], ["s"]),
                                       node("Unsqueeze", ["s"], ["u"], axes=[0]),
                                       node("Gemm", ["u", "w"], ["y"], transB=1)],
                                      {"x": [1, 6, 3, 3]}, ["y"], {"w": rand(4, 6)}, 11),
    "reshape_without_batch_then_softmax": ([node("Reshape", ["x", "sh"], ["r"]), node("Softmax", ["r"], ["s"], axis=0),
                                            node("Relu", ["s"], ["y"])], {"x": [1, 6, 3, 3]}, ["y"],
                                           {"sh": np.array([6, 9], np.int64)}, 13),
    "constant_graph_output": ([node("Relu", ["x"], ["y"]),
                               node("Constant", [], ["c"], value=numpy_helper.from_array(rand(2, 3)))],
                              {"x": [1, 2, 3]}, ["y", "c"], {}, 13),
}


@pytest.mark.parametrize("case", sorted(MORE))
def test_more_converters_match_onnxruntime_and_pip_ncnn(tmp_path, case):
    nodes, inputs, outputs, inits, opset = MORE[case]
    check(make(nodes, inputs, outputs, inits, opset=opset), tmp_path)


def test_unary_ops(tmp_path):
    ops = ["Floor", "Ceil", "Sqrt", "Log", "Sin", "Cos", "Reciprocal", "Round", "Sign", "Atan"]
    m = make([node(op, ["x"], ["y" + op]) for op in ops], {"x": [1, 2, 3, 4]}, ["y" + op for op in ops], opset=13)
    graph = check(m, tmp_path, feeds={"x": np.abs(rand(1, 2, 3, 4)) + 0.1})
    assert types(graph).count("UnaryOp") == len(ops)


# --- driver behaviour ----------------------------------------------------------------------
def test_unsupported_op_names_model_node_and_op():
    m = make([node("TopK", ["x", "k"], ["y", "i"])], {"x": [1, 10]}, ["y"], {"k": np.array([3], np.int64)})
    with pytest.raises(NcnnlikeError, match=r"^m.onnx: node 'y_node' \(TopK\): unsupported ONNX op$"):
        import_onnx(m, where="m.onnx")


def test_graph_output_also_consumed_keeps_its_name_through_split(tmp_path):
    nodes = [node("Relu", ["x"], ["r"]), node("Sigmoid", ["r"], ["s"]), node("Identity", ["s"], ["out two"])]
    graph = check(make(nodes, {"x": [1, 2, 3, 3]}, ["r", "out two"]), tmp_path, ncnn_check=False)
    assert graph.layer("splitncnn_0").tops == ["r_splitncnn_0", "r_splitncnn_1"]
    assert graph.layers[-1].tops == ["out_two"]        # whitespace replaced, Identity removed


def test_input_shape_and_batch_fixed_to_one():
    graph = import_onnx(make([node("Relu", ["x"], ["y"])], {"x": ["batch", 3, 8, 9]}, ["y"]))
    assert graph.layers[0].type == "Input" and graph.layers[0].params == {0: 9, 1: 8, 2: 3}


def test_dynamic_spatial_dim_is_a_clear_error():
    with pytest.raises(NcnnlikeError, match="dynamic dim at axis 2"):
        import_onnx(make([node("Relu", ["x"], ["y"])], {"x": [1, 3, "H", 9]}, ["y"]))
