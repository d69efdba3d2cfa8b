"""The .bin reader/writer: ncnn-made files round-trip byte for byte, storage types are kept, and
the writer reproduces ModelWriter's fp16 rounding, denormal flush and padding (spec 2)."""
import io
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.io.bin import (TAG_FP16, TAG_FP32_SCALED, TAG_INT8, dump_bin, read_bin, tagged_bytes,
                             to_float16, write_bin)
from ncnnlike.io.model import load_model, save_model
from ncnnlike.io.param import read_param

TINY = ["tiny/tiny-opt", "tiny/tiny-int8", "tiny/tiny-int8-aciq", "tiny/tiny-int8-mixA",
        "tiny/tiny-int8-mixB", "tiny/tiny-int8-mixC"]


def ref(name, ext):
    return os.path.join(REFERENCE, name + ext)


def load(name):
    return load_model(ref(name, ".param"), ref(name, ".bin"))


def bin_bytes(graph, fp16=False):
    f = io.BytesIO()
    dump_bin(graph, f, fp16)
    return f.getvalue()


def ref_bytes(name):
    with open(ref(name, ".bin"), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def lite0():
    return load("lite0/lite0-opt")


@pytest.mark.parametrize("name", TINY + ["lite0/lite0-int8-kl"])
def test_ncnn_made_bin_rewrites_to_identical_bytes(name, tmp_path):
    out = str(tmp_path / "out.bin")
    write_bin(load(name), out)
    with open(out, "rb") as f:
        assert f.read() == ref_bytes(name)


def test_lite0_fp32_bin_rewrites_to_identical_bytes(lite0):
    assert bin_bytes(lite0) == ref_bytes("lite0/lite0-opt")


def test_lite0_model_has_every_weight_and_its_sizes(lite0):
    conv = lite0.layer("convclip_0")
    assert list(conv.weights) == ["weight_data", "bias_data"]
    assert conv.weights["weight_data"].shape == (864,) and conv.weights["weight_data"].dtype == np.float32
    assert lite0.layer("linear_38").weights["weight_data"].size == 1280000


def test_fp16_writer_equals_the_fp16_copy_ncnn2int8_made_of_tiny(tmp_path):
    """tiny-int8-mixC.bin is ncnn's fp16 storage of tiny-opt's weights (reference README, experiment c)."""
    out = str(tmp_path / "fp16.bin")
    write_bin(load("tiny/tiny-opt"), out, fp16=True)
    with open(out, "rb") as f:
        assert f.read() == ref_bytes("tiny/tiny-int8-mixC")


def test_storage_types_are_kept_as_dtypes():
    int8 = load("tiny/tiny-int8")
    conv = int8.layer("convrelu_0")
    assert conv.weights["weight_data"].dtype == np.int8
    assert list(conv.weights) == ["weight_data", "bias_data", "weight_data_int8_scales",
                                  "bottom_blob_int8_scales", "top_blob_int8_scales"]
    assert conv.weights["weight_data_int8_scales"].dtype == np.float32
    fp16 = load("tiny/tiny-int8-mixC")
    assert fp16.layer("conv_7").weights["weight_data"].dtype == np.float16
    assert fp16.layer("conv_7").weights["bias_data"].dtype == np.float32
    fp32 = load("tiny/tiny-opt")
    np.testing.assert_array_equal(fp16.layer("conv_7").weight("weight_data"),
                                  fp32.layer("conv_7").weight("weight_data").astype(np.float16).astype(np.float32))


def test_fp16_conversion_rounds_to_nearest_even_then_truncates_the_last_n_mod_4():
    v = np.float32(1 + 2 ** -11 + 2 ** -12)          # 0.75 ulp above 1.0 in fp16
    halves = to_float16(np.full(7, v))
    assert list(halves[:4]) == [np.float16(1 + 2 ** -10)] * 4
    assert list(halves[4:]) == [np.float16(1.0)] * 3


def test_fp16_truncation_flushes_below_normal_saturates_to_inf_and_keeps_nan():
    tail = np.array([65520.0, 7e4, -6.1e-5, 1e-5, np.nan], np.float32)
    halves = to_float16(tail)                         # n = 5: elements 0..3 RNE, element 4 truncated
    assert np.isinf(halves[0]) and np.isinf(halves[1])
    assert halves[2] == np.float16(-6.1e-5) and halves[3] == np.float16(1e-5)
    assert np.isnan(halves[4])
    last = to_float16(np.array([0, 0, 0, 0, 65520.0, 7e4, -6.1e-5], np.float32))[4:]
    assert last.view(np.uint16).tolist() == [0x7BFF, 0x7C00, 0x8000]


def test_tagged_buffers_are_padded_to_four_bytes():
    assert tagged_bytes(np.zeros(27, np.float32), fp16=True)[:4] == TAG_FP16.to_bytes(4, "little")
    assert len(tagged_bytes(np.zeros(27, np.float32), fp16=True)) == 60     # spec 2.2 [V] example
    int8 = tagged_bytes(np.array([1, -2, 3, -4, 5], np.int8))
    assert int8 == TAG_INT8.to_bytes(4, "little") + bytes([1, 254, 3, 252, 5, 0, 0, 0])


def test_fp32_writer_flushes_values_below_1e_30_but_keeps_signed_zero():
    below = np.nextafter(np.float32(1e-30), np.float32(0))
    values = np.array([below, -below, np.float32(1e-30), -0.0, 2.5], np.float32)
    written = np.frombuffer(tagged_bytes(values)[4:], "<f4")
    assert written[0] == 0 and written[1] == 0 and not np.signbit(written[1])
    assert written[2] == np.float32(1e-30)
    assert np.signbit(written[3]) and written[4] == 2.5


def conv_graph(weight_size=5, bias=True):
    params = {0: 1, 1: 1, 6: weight_size, 5: int(bias)}
    return Graph([layer("Input", "in", [], ["x"]), layer("Convolution", "c", ["x"], ["y"], params)])


def test_reader_decodes_legacy_codebook_and_scaled_fp32_tags(tmp_path):
    codebook = np.arange(256, dtype="<f4") * 0.5
    data = ((7).to_bytes(4, "little") + codebook.tobytes() + bytes([0, 3, 255, 2, 1, 0, 0, 0])
            + np.float32([1.5]).tobytes())
    path = tmp_path / "cb.bin"
    path.write_bytes(data)
    graph = conv_graph()
    read_bin(graph, str(path))
    np.testing.assert_array_equal(graph.layer("c").weights["weight_data"], [0, 1.5, 127.5, 1, 0.5])
    path.write_bytes(TAG_FP32_SCALED.to_bytes(4, "little") + np.arange(6, dtype="<f4").tobytes())
    read_bin(graph, str(path))
    np.testing.assert_array_equal(graph.layer("c").weights["weight_data"], [0, 1, 2, 3, 4])
    assert graph.layer("c").weights["bias_data"].tolist() == [5.0]


def test_read_bin_replaces_previous_weights(tmp_path):
    graph = conv_graph(bias=False)
    graph.layer("c").weights = {"stale": np.zeros(1, np.float32)}
    path = tmp_path / "w.bin"
    path.write_bytes(bytes(4) + np.arange(5, dtype="<f4").tobytes())
    read_bin(graph, str(path))
    assert list(graph.layer("c").weights) == ["weight_data"]


def test_writer_rejects_weights_that_do_not_match_the_params():
    graph = conv_graph()
    graph.layer("c").weights = {"weight_data": np.zeros(4, np.float32), "bias_data": np.zeros(1, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer c .*weight_data has 4 values, its params say 5"):
        bin_bytes(graph)
    graph.layer("c").weights = {"weight_data": np.zeros(5, np.float32)}
    with pytest.raises(NcnnlikeError, match="bias_data is missing"):
        bin_bytes(graph)


def test_save_model_writes_both_files_that_load_back(tmp_path):
    graph = load("tiny/tiny-int8")
    save_model(graph, str(tmp_path / "a.param"), str(tmp_path / "a.bin"))
    again = load_model(str(tmp_path / "a.param"), str(tmp_path / "a.bin"))
    assert open(str(tmp_path / "a.param")).read() == open(ref("tiny/tiny-int8", ".param")).read()
    assert bin_bytes(again) == ref_bytes("tiny/tiny-int8")
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "a.param"]


def test_params_alone_match_a_bin_made_by_pnnx():
    graph = read_param(ref("tiny/tiny.ncnn", ".param"))
    read_bin(graph, ref("tiny/tiny.ncnn", ".bin"))
    assert bin_bytes(graph) == ref_bytes("tiny/tiny-opt")


def test_pip_ncnn_loads_our_fp16_file_with_shape_hints_and_an_odd_sized_buffer(tmp_path):
    """Oracle: ncnn's conv output equals the conv computed with the halves we stored (27 = 24 RNE + 3 truncated)."""
    ncnn = pytest.importorskip("ncnn")
    rng = np.random.default_rng(0)
    graph = Graph([layer("Input", "in", [], ["x"], {0: 4, 1: 4, 2: 3}),
                   layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 3, 6: 27, 5: 1},
                         {"weight_data": rng.standard_normal(27).astype(np.float32),
                          "bias_data": np.float32([0.5])})])
    graph.layer("in").shape_hints = [(3, 4, 4, 1, 3)]
    graph.layer("c").shape_hints = [(3, 2, 2, 1, 1)]
    param, binf = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binf, fp16=True)
    assert os.path.getsize(binf) == 60 + 4
    halves = load_model(param, binf).layer("c").weight("weight_data").reshape(3, 3, 3)
    net = ncnn.Net()
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    assert net.load_param(param) == 0 and net.load_model(binf) == 0
    x = rng.standard_normal((3, 4, 4)).astype(np.float32)
    ex = net.create_extractor()
    ex.input("x", ncnn.Mat(x))
    out = np.array(ex.extract("y")[1])
    expected = [[(x[:, i:i + 3, j:j + 3] * halves).sum() + 0.5 for j in range(2)] for i in range(2)]
    np.testing.assert_allclose(out[0], expected, atol=1e-5)
