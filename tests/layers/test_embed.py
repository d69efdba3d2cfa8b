"""Embed: row lookup with clamped word indices, bias, int8 weights (checked against pip ncnn).

pip ncnn reads the bottom as int32, so it is fed int32 Mats here; our runtime gets the same indices
as float values (it casts every input to float32 by value). Lookup and int8 dequantization are
single float ops, so parity is exact.
"""
import ncnn
import numpy as np
import pytest
from helpers import layer, ncnn_net, run_layers
from oracle import make_model, run_ours

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import load_model, save_model
from ncnnlike.layers.base import weight_specs
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.tablefile import parse_table

# in range, out of range high (12, 100) and low (-4, -1)
INDICES = np.array([[0, 3, 9, 12, -4, 5, 7], [1, 1, 2, 2, 100, -1, 0]], np.int32)


def ncnn_int32(param, binfile, indices, int8):
    """pip ncnn on each row of int32 indices (its Embed reads the Mat's memory as int)."""
    net = ncnn_net(param, binfile, int8=int8)
    outs = []
    for row in indices:
        ex = net.create_extractor()
        ex.input("x", ncnn.Mat(np.ascontiguousarray(row, np.int32)).clone())
        ret, mat = ex.extract("y")
        assert ret == 0
        outs.append(np.array(mat).copy())
    return np.stack(outs)


@pytest.mark.parametrize("int8", [False, True])
@pytest.mark.parametrize("extra", ["", " 2=1", " 18=2", " 2=1 18=2"])
def test_lookup_matches_pip_ncnn_exactly(tmp_path, extra, int8):
    param, binfile, _ = make_model("Input in0 0 1 x\nEmbed e 1 1 x y 0=6 1=10 3=60" + extra, tmp_path)
    theirs = ncnn_int32(param, binfile, INDICES, int8)
    ours = run_ours(param, binfile, {"x": INDICES.astype(np.float32)}, ["y"], int8)["y"]
    assert ours.shape == theirs.shape == (2, 7, 6)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("int8", [False, True])
def test_model2int8_embed_file_matches_pip_ncnn(tmp_path, int8):
    param, binfile, _ = make_model("Input in0 0 1 x\nEmbed e 1 1 x y 0=6 1=10 2=1 3=60", tmp_path)
    table = parse_table("e_param_0 101.734375\n")
    quantized, _ = quantize_graph(load_model(param, binfile), table)
    q_param, q_bin = str(tmp_path / "int8.param"), str(tmp_path / "int8.bin")
    save_model(quantized, q_param, q_bin)
    theirs = ncnn_int32(q_param, q_bin, INDICES, int8)
    ours = run_ours(q_param, q_bin, {"x": INDICES.astype(np.float32)}, ["y"], int8)["y"]
    np.testing.assert_array_equal(ours, theirs)


def test_2d_bottom_looks_up_its_first_row_like_ncnn(tmp_path):
    param, binfile, _ = make_model("Input in0 0 1 x\nEmbed e 1 1 x y 0=4 1=10 2=1 3=40", tmp_path)
    ids = np.array([[[2, 7, 1], [9, 9, 9]], [[0, 5, 3], [4, 4, 4]]], np.int32)
    theirs = ncnn_int32(param, binfile, ids, False)
    ours = run_ours(param, binfile, {"x": ids.astype(np.float32)}, ["y"])["y"]
    assert ours.shape == theirs.shape == (2, 3, 4)
    np.testing.assert_array_equal(ours, theirs)


def test_fractional_and_nan_indices_truncate_and_clamp():
    w = np.arange(12, dtype=np.float32)
    x = np.array([[2.9, -0.7, 3.5, np.nan, 1e30, -1e30]], np.float32)
    y = run_layers([layer("Embed", "e", ["x"], ["y"], {0: 3, 1: 4, 3: 12}, {"weight_data": w})], {"x": x})["y"]
    np.testing.assert_array_equal(y[0, :, 0], [6, 0, 9, 0, 9, 0])


def test_bin_buffers_in_order():
    l = layer("Embed", "e", ["x"], ["y"], {0: 6, 1: 10, 2: 1, 3: 60, 18: 2})
    assert [(s.name, s.count, s.tagged) for s in weight_specs(l)] == [
        ("weight_data", 60, True), ("bias_data", 6, False), ("weight_data_int8_scale", 1, False)]


def test_int8_term_with_float_weights_raises():
    weights = {"weight_data": np.zeros(6, np.float32), "weight_data_int8_scale": np.float32([2])}
    with pytest.raises(NcnnlikeError, match="layer e .Embed.*int8_scale_term"):
        run_layers([layer("Embed", "e", ["x"], ["y"], {0: 2, 1: 3, 3: 6, 18: 2}, weights)],
                   {"x": np.zeros((1, 4), np.float32)})


def test_too_few_weights_raises():
    with pytest.raises(NcnnlikeError, match="layer e .Embed.*fewer than input_dim"):
        run_layers([layer("Embed", "e", ["x"], ["y"], {0: 2, 1: 5, 3: 6}, {"weight_data": np.zeros(6, np.float32)})],
                   {"x": np.zeros((1, 4), np.float32)})
