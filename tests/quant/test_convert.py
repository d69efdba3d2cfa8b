"""model2int8 conversion: byte parity with the real ncnn2int8, mixed precision, requantize fusion."""
import hashlib
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.io.model import load_model, save_model
from ncnnlike.quant.convert import float2int8, quantize_graph
from ncnnlike.quant.tablefile import parse_table, read_table

TINY = os.path.join(REFERENCE, "tiny")
LITE0 = os.path.join(REFERENCE, "lite0")
TINY_LAYERS = ["convrelu_0", "convrelu_1", "convdwrelu_0", "conv_7", "linear_8"]


def tiny_graph():
    return load_model(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"))


def saved(graph, tmp_path, fp16=True):
    """(param text, bin bytes) of a graph as save_model writes it."""
    param, binf = str(tmp_path / "out.param"), str(tmp_path / "out.bin")
    save_model(graph, param, binf, fp16=fp16)
    with open(param) as f, open(binf, "rb") as g:
        return f.read(), g.read()


def reference(folder, name, ext):
    with open(os.path.join(folder, name + ext), "rb") as f:
        return f.read()


def int8_terms(graph):
    """layer -> int8_scale_term (8=) of every conv layer, None when the layer stayed float."""
    return {l.name: l.params.get(8) for l in graph if l.name in TINY_LAYERS}


def test_float2int8_rounds_half_away_from_zero_and_saturates_at_127_like_ncnn_x86():
    x = np.array([0.5, -0.5, 1.5, -2.5, 0.49999997, -0.49999997, 0.4999, 126.6, 200, -1e9], np.float32)
    assert float2int8(x).tolist() == [1, -1, 2, -3, 1, -1, 0, 127, 127, -127]


@pytest.mark.parametrize("table, expected", [("tiny-kl.table", "tiny-int8"),
                                             ("tiny-aciq.table", "tiny-int8-aciq"),
                                             ("tiny-kl-mixB-noact.table", "tiny-int8-mixB")])
def test_tiny_conversion_is_byte_identical_to_ncnn2int8(tmp_path, table, expected):
    out, log = quantize_graph(tiny_graph(), read_table(os.path.join(TINY, table)))
    param, binary = saved(out, tmp_path)
    assert param.encode() == reference(TINY, expected, ".param")
    assert binary == reference(TINY, expected, ".bin")
    assert [line for line in log if line.startswith("fuse_requantize")][-1] == "fuse_requantize convdwrelu_0 conv_7"


def test_fuse_requantize_is_logged_only_when_a_fusion_happens():
    out, log = quantize_graph(tiny_graph(), read_table(os.path.join(TINY, "tiny-kl-mixB-noact.table")))
    assert [l for l in log if l.startswith("fuse")] == ["fuse_requantize convrelu_1 convdwrelu_0",
                                                         "fuse_requantize convdwrelu_0 conv_7"]


# 8= of every conv layer when exactly one layer's lines are commented out (None: float)
KEEP_FLOAT = {
    "convrelu_0": [None, 102, 101, 2, 2],
    "convrelu_1": [2, None, 101, 2, 2],
    "convdwrelu_0": [102, 2, None, 2, 2],
    "conv_7": [102, 102, 1, None, 2],
    "linear_8": [102, 102, 101, 2, None],
}


@pytest.mark.parametrize("name", TINY_LAYERS)
@pytest.mark.parametrize("which", ["weight", "activation", "both"])
def test_commenting_any_line_of_one_layer_keeps_exactly_that_layer_float(tmp_path, name, which):
    with open(os.path.join(TINY, "tiny-kl.table")) as f:
        lines = f.read().splitlines()
    keys = {"weight": [name + "_param_0"], "activation": [name], "both": [name + "_param_0", name]}[which]
    text = "\n".join("#" + l if l.split()[0] in keys else l for l in lines)
    out, log = quantize_graph(tiny_graph(), parse_table(text, "edited.table"))
    assert list(int8_terms(out).values()) == KEEP_FLOAT[name]
    assert out.layer(name).weights["weight_data"].dtype == np.float32
    warnings = [l for l in log if l.startswith("warning")]
    assert len(warnings) == 1 and name in warnings[0] and "stays float" in warnings[0]
    loaded = save_and_load(out, tmp_path)
    assert loaded.layer(name).weights["weight_data"].dtype == np.float16
    assert np.array_equal(loaded.layer(name).weight("weight_data"),
                          tiny_graph().layer(name).weight("weight_data").astype(np.float16).astype(np.float32))


def save_and_load(graph, tmp_path):
    param, binf = str(tmp_path / "rt.param"), str(tmp_path / "rt.bin")
    save_model(graph, param, binf, fp16=True)
    return load_model(param, binf)


def ncnn_outputs(param, binf, inputs):
    """Logits of pip ncnn (int8 inference on, fp16 off) for a batch of (3, 32, 32) inputs."""
    ncnn = pytest.importorskip("ncnn")
    net = ncnn.Net()
    net.opt.num_threads = 2
    net.opt.use_int8_inference = True
    for key in ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, key, False)
    assert net.load_param(param) == 0 and net.load_model(binf) == 0
    outs = []
    for x in inputs:
        arr = np.ascontiguousarray(x, np.float32)  # ncnn.Mat(arr) does not copy: keep arr alive
        ex = net.create_extractor()
        ex.input("in0", ncnn.Mat(arr))
        ret, out = ex.extract("out0")
        assert ret == 0
        outs.append(np.array(out).reshape(-1).copy())
    return np.stack(outs)


@pytest.mark.parametrize("table, key", [("tiny-kl.table", "int8"), ("tiny-kl-mixB-noact.table", "int8_mixB")])
def test_converted_tiny_runs_in_pip_ncnn_like_the_reference_outputs(tmp_path, table, key):
    out, _ = quantize_graph(tiny_graph(), read_table(os.path.join(TINY, table)))
    param, binf = str(tmp_path / "q.param"), str(tmp_path / "q.bin")
    save_model(out, param, binf, fp16=True)
    ref = np.load(os.path.join(TINY, "outputs.npz"))
    logits = ncnn_outputs(param, binf, ref["inputs"])
    assert np.abs(logits - ref[key]).max() < 1e-4


def test_keeping_the_fc_layer_float_runs_in_pip_ncnn_close_to_fp32(tmp_path):
    text = open(os.path.join(TINY, "tiny-kl.table")).read().replace("linear_8 29", "#linear_8 29")
    out, _ = quantize_graph(tiny_graph(), parse_table(text))
    param, binf = str(tmp_path / "q.param"), str(tmp_path / "q.bin")
    save_model(out, param, binf, fp16=True)
    ref = np.load(os.path.join(TINY, "outputs.npz"))
    logits = ncnn_outputs(param, binf, ref["inputs"])
    cos = (logits * ref["fp32"]).sum(1) / np.linalg.norm(logits, axis=1) / np.linalg.norm(ref["fp32"], axis=1)
    assert cos.mean() > 0.998


def lite0_inf_channels(table):
    """(layer, channel) of every inf weight scale in an ncnn2table table."""
    return [(line.key[:-len("_param_0")], int(c)) for line in table.weights.values() if line.has_inf
            for c in np.flatnonzero(np.isinf(line.values))]


def with_ncnn_inf_channels(graph, channels):
    """What ncnn2int8 writes for an inf scale: weights -127 (through a NaN) and the scale inf."""
    graph = graph.copy()
    for name, c in channels:
        l = graph.layer(name)
        w = l.weights["weight_data"].reshape(l.params[7], -1)
        assert not w[c].any() and l.weights["weight_data_int8_scales"][c] == 1.0
        w[c] = -127
        l.weights["weight_data_int8_scales"][c] = np.inf
    return graph


@pytest.fixture(scope="module")
def lite0():
    return load_model(os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin"))


def test_lite0_kl_conversion_matches_ncnn2int8_except_the_five_inf_channels(tmp_path, lite0):
    table = read_table(os.path.join(LITE0, "lite0-kl.table"))
    out, log = quantize_graph(lite0, table)
    channels = lite0_inf_channels(table)
    assert [n for n, _ in channels] == ["convdwclip_0", "convdwclip_3", "convdwclip_6", "convdwclip_7",
                                        "convdwclip_15"]
    assert sum(l.startswith("fuse_requantize") for l in log) == 34
    assert sum("inf scale for all-zero channel" in l for l in log) == 5
    param, ours = saved(out, tmp_path)
    assert param.encode() == reference(LITE0, "lite0-int8-kl", ".param")
    expected = reference(LITE0, "lite0-int8-kl", ".bin")
    assert len(ours) == len(expected)
    differing = np.flatnonzero(np.frombuffer(ours, np.uint8) != np.frombuffer(expected, np.uint8))
    assert 0 < differing.size <= sum(25 + 4 for _ in channels)  # kernel bytes + scale bytes of 5 channels
    _, patched = saved(with_ncnn_inf_channels(out, channels), tmp_path)
    assert patched == expected


def test_lite0_aciq_conversion_matches_ncnn2int8_param_and_bin_md5(tmp_path, lite0):
    table = read_table(os.path.join(LITE0, "lite0-aciq.table"))
    out, _ = quantize_graph(lite0, table)
    param, _ = saved(out, tmp_path)
    assert param.encode() == reference(LITE0, "lite0-int8-aciq", ".param")
    _, patched = saved(with_ncnn_inf_channels(out, lite0_inf_channels(table)), tmp_path)
    assert hashlib.md5(patched).hexdigest() == "7f9130a93dc90f8535e437267678be66"  # README: the bin not kept


def conv(name, bottom, top, n_in, n_out, seed):
    w = np.random.default_rng(seed).standard_normal(n_in * n_out).astype(np.float32)
    return layer("Convolution", name, [bottom], [top], {0: n_out, 1: 1, 6: n_in * n_out}, {"weight_data": w})


def split_graph(second_consumer):
    """conv1 -> Split -> {conv2, second_consumer}."""
    return Graph([layer("Input", "in0", [], ["x"], {0: 4, 1: 4, 2: 2}), conv("conv1", "x", "a", 2, 3, 0),
                  layer("Split", "split1", ["a"], ["a0", "a1"]), conv("conv2", "a0", "b", 3, 2, 1),
                  second_consumer])


def table_for(names, blob_scale=lambda name: 4.0):
    text = "".join("%s_param_0 %s\n" % (n, " ".join(["50.0"] * c)) for n, c in names)
    return parse_table(text + "".join("%s %f\n" % (n, blob_scale(n)) for n, _ in names))


def test_split_fanning_into_int8_convs_fuses_with_the_consumer_bottom_scale():
    graph = split_graph(conv("conv3", "a1", "c", 3, 2, 2))
    out, log = quantize_graph(graph, table_for([("conv1", 3), ("conv2", 2), ("conv3", 2)]))
    assert out.layer("conv1").params[8] == 102 and "fuse_requantize conv1 split1" in log
    assert list(out.layer("conv1").weights.values())[-1].tolist() == [4.0]
    assert out.layer("conv2").params[8] == 2


def test_split_fanning_into_a_non_conv_layer_does_not_fuse():
    graph = split_graph(layer("Pooling", "pool1", ["a1"], ["c"], {0: 0, 1: 2}))
    out, log = quantize_graph(graph, table_for([("conv1", 3), ("conv2", 2)]))
    assert out.layer("conv1").params[8] == 2 and not any(l.startswith("fuse") for l in log)


def test_split_consumers_with_different_bottom_scales_do_not_fuse_and_warn():
    graph = split_graph(conv("conv3", "a1", "c", 3, 2, 2))
    scales = {"conv1": 4.0, "conv2": 5.0, "conv3": 6.0}
    out, log = quantize_graph(graph, table_for([("conv1", 3), ("conv2", 2), ("conv3", 2)], scales.get))
    assert out.layer("conv1").params[8] == 2
    assert any(l.startswith("warning: no fuse_requantize conv1 split1") for l in log)


def test_a_separate_activation_layer_breaks_the_requantize_chain():
    graph = Graph([layer("Input", "in0", [], ["x"], {0: 4, 1: 4, 2: 2}), conv("conv1", "x", "a", 2, 3, 0),
                   layer("ReLU", "relu1", ["a"], ["r"]), conv("conv2", "r", "b", 3, 2, 1)])
    out, log = quantize_graph(graph, table_for([("conv1", 3), ("conv2", 2)]))
    assert (out.layer("conv1").params[8], out.layer("conv2").params[8]) == (2, 2)


def test_an_int8_model_is_refused():
    graph = load_model(os.path.join(TINY, "tiny-int8.param"), os.path.join(TINY, "tiny-int8.bin"))
    with pytest.raises(NcnnlikeError, match=r"layer convrelu_0 \(Convolution\) is already int8 \(8=102\)"):
        quantize_graph(graph, read_table(os.path.join(TINY, "tiny-kl.table")))


def test_without_a_table_nothing_is_quantized():
    out, log = quantize_graph(tiny_graph(), None)
    assert set(int8_terms(out).values()) == {None} and log == []


@pytest.mark.parametrize("kind, gates, bias_rows", [("RNN", 1, 1), ("LSTM", 4, 4), ("GRU", 3, 4)])
def test_recurrent_layers_quantize_with_their_table_lines_and_run_in_pip_ncnn(tmp_path, kind, gates, bias_rows):
    from ncnnlike.quant.tablefile import format_line
    from ncnnlike.quant.weights import static_weight_lines
    ncnn = pytest.importorskip("ncnn")
    rng = np.random.default_rng(3)
    steps, size, hidden, directions = 5, 6, 4, 2
    weights = {"weight_xc_data": rng.standard_normal(directions * gates * hidden * size).astype(np.float32) / 2,
               "bias_c_data": rng.standard_normal(directions * bias_rows * hidden).astype(np.float32) / 10,
               "weight_hc_data": rng.standard_normal(directions * gates * hidden * hidden).astype(np.float32) / 2}
    graph = Graph([layer("Input", "in0", [], ["x"], {0: size, 1: steps}),
                   layer(kind, "rnn1", ["x"], ["y"], {0: hidden, 1: weights["weight_xc_data"].size, 2: 2}, weights)])
    text = "".join(format_line(k, v) for k, v in static_weight_lines(graph).items())
    out, log = quantize_graph(graph, parse_table(text, "rnn.table"))
    assert log == ["quantize_%s rnn1" % kind.lower()] and out.layer("rnn1").params[8] == 2
    assert [w.dtype for w in out.layer("rnn1").weights.values()] == [np.int8, np.float32, np.int8,
                                                                     np.float32, np.float32]
    x = rng.standard_normal((steps, size)).astype(np.float32)
    results = []
    for g, fp16 in ((graph, False), (out, True)):
        param, binf = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
        save_model(g, param, binf, fp16=fp16)
        net = ncnn.Net()
        net.opt.use_int8_inference = True
        assert net.load_param(param) == 0 and net.load_model(binf) == 0
        ex = net.create_extractor()
        ex.input("x", ncnn.Mat(x))
        ret, y = ex.extract("y")
        results.append(np.array(y).copy())
    assert results[0].shape == (steps, 2 * hidden)
    assert 0 < np.abs(results[0] - results[1]).max() < 0.03 * np.abs(results[0]).max()


GEMM_CASES = {  # params, constant weights, bottom shape (rows, w)
    "constant B, transB=0": ({5: 1, 6: 1, 8: 5, 9: 8, 10: 4}, {"B_data": (8, 5), "C_data": (5,)}, (3, 8)),
    "constant A, transA=1": ({2: 1, 3: 1, 4: 1, 7: 3, 9: 8, 10: -1}, {"A_data": (8, 3)}, (5, 8)),
}


@pytest.mark.parametrize("case", list(GEMM_CASES))
def test_gemm_is_quantized_without_a_table_transposed_like_ncnn2int8_and_runs_in_pip_ncnn(tmp_path, case):
    ncnn = pytest.importorskip("ncnn")
    params, shapes, x_shape = GEMM_CASES[case]
    rng = np.random.default_rng(4)
    weights = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    graph = Graph([layer("Input", "in0", [], ["x"], {0: x_shape[1], 1: x_shape[0]}),
                   layer("Gemm", "gemm1", ["x"], ["y"], params, {k: w.reshape(-1) for k, w in weights.items()})])
    out, log = quantize_graph(graph, None)
    q = out.layer("gemm1")
    assert log == ["quantize_gemm gemm1"] and q.params[18] == 2
    assert (q.params.get(2, 0), q.params.get(3, 0)) == (0, 1)  # A as (M, K) rows, B as (N, K) rows
    name = "A_data" if "A_data" in weights else "B_data"
    scales = list(q.weights.values())[-1]
    dequantized = q.weights[name].astype(np.float32).reshape(-1, 8) / scales.reshape(-1, 1)
    assert np.abs(dequantized - weights[name].T).max() <= 0.501 / scales.min()
    x = rng.standard_normal(x_shape).astype(np.float32)
    results = []
    for g in (graph, out):
        param, binf = str(tmp_path / "g.param"), str(tmp_path / "g.bin")
        save_model(g, param, binf, fp16=False)
        net = ncnn.Net()
        assert net.load_param(param) == 0 and net.load_model(binf) == 0
        ex = net.create_extractor()
        ex.input("x", ncnn.Mat(x))
        results.append(np.array(ex.extract("y")[1]).copy())
    assert results[0].shape == (3, 5)
    assert 0 < np.abs(results[0] - results[1]).max() < 0.03 * np.abs(results[0]).max()
