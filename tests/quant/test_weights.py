"""Weight scales: parity with ncnn2table's weight lines (spec 5.4, 5.6), the zero guard, 5.7 layers."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.io.model import load_model
from ncnnlike.quant.tablefile import read_table
from ncnnlike.quant.weights import (conv_weight_lines, embed_scales, mha_scales, rnn_scales,
                                    static_weight_lines, weight_scales)


def model(name):
    """The ncnnoptimize'd fp32 model of a reference set (tiny, lite0)."""
    folder = os.path.join(REFERENCE, name)
    return load_model(os.path.join(folder, name + "-opt.param"), os.path.join(folder, name + "-opt.bin"))


def printed(values):
    return ["%f" % v for v in values]


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_tiny_weight_lines_print_as_ncnn2table_printed_them(method):
    expected = read_table(os.path.join(REFERENCE, "tiny", "tiny-png-%s.table" % method)).weights
    lines = conv_weight_lines(model("tiny"), method)
    assert list(lines) == list(expected)
    for key, values in lines.items():
        assert printed(values) == printed(expected[key].values), key


@pytest.mark.parametrize("method", ["kl", "aciq"])
def test_lite0_weight_lines_match_and_all_zero_channels_get_scale_one(method):
    graph = model("lite0")
    expected = read_table(os.path.join(REFERENCE, "lite0", "lite0-png-%s.table" % method)).weights
    lines = conv_weight_lines(graph, method)
    assert list(lines) == list(expected)
    zero_channels = 0
    for key, values in lines.items():
        ncnn = expected[key].values
        finite = np.isfinite(ncnn)
        assert printed(values[finite]) == printed(ncnn[finite]), key
        assert np.all(values[~finite] == 1.0)
        zero_channels += int(np.count_nonzero(~finite))
    assert zero_channels == 5


def conv(kernel=3, stride=1, dilation=1, num_output=2, weights=None):
    """A Convolution layer; by default 2 channels of 9 weights with absmax 2.0 and 0.25."""
    w = np.float32([[0.5, -2.0, 1, 0, 0, 0, 0, 0, 0], [0.25, 0.1, 0, 0, 0, 0, 0, 0, 0]]) if weights is None else weights
    return layer("Convolution", "c", ["x"], ["y"], {0: num_output, 1: kernel, 2: dilation, 3: stride, 6: w.size},
                 {"weight_data": w.reshape(-1)})


def test_six_bit_rule_only_for_3x3_stride_1_dilation_1():
    assert weight_scales(conv()).tolist() == [15.5, 124.0]                 # 31/2, 31/0.25
    assert weight_scales(conv(stride=2)).tolist() == [63.5, 508.0]         # 127/absmax
    assert weight_scales(conv(dilation=2)).tolist() == [63.5, 508.0]
    one = np.float32([[3.0], [-0.5]])
    assert weight_scales(conv(kernel=1, weights=one)).tolist() == [np.float32(127) / np.float32(3), 254.0]


def test_all_zero_channel_gets_scale_one_instead_of_inf():
    w = np.zeros((2, 9), np.float32)
    w[0, 4] = -4.0
    assert weight_scales(conv(weights=w)).tolist() == [7.75, 1.0]
    assert weight_scales(conv(weights=w), "aciq")[1] == 1.0


def test_aciq_weight_scale_uses_the_clip_over_the_channel_count():
    from ncnnlike.quant.methods.aciq import gaussian_clip
    scales = weight_scales(conv(stride=2), "aciq")
    assert scales[0] == np.float32(127) / np.float32(gaussian_clip(2.0, 9, 8))
    scales = weight_scales(conv(), "aciq")
    assert scales[1] == np.float32(31) / np.float32(gaussian_clip(0.25, 9, 6))


def test_wrong_weight_count_and_int8_weights_are_errors():
    bad = conv()
    bad.params[6] = 20
    with pytest.raises(NcnnlikeError, match="layer c: 18 weights, but weight_data_size is 20"):
        weight_scales(bad)
    int8 = conv()
    int8.weights["weight_data"] = np.ones(18, np.int8)
    with pytest.raises(NcnnlikeError, match="layer c: weights are already int8"):
        weight_scales(int8)


def test_embed_and_multiheadattention_scales():
    embed = layer("Embed", "emb", ["x"], ["y"], {0: 2, 1: 3, 3: 6}, {"weight_data": np.float32([1, -2.54, 0, 0, 0, 0])})
    assert embed_scales(embed).tolist() == [np.float32(127) / np.float32(2.54)]
    embed_dim, qdim, kdim, vdim = 2, 3, 4, 1
    q = np.float32([[1, -2, 0.5], [0, 0, 0]])
    k = np.float32([[0.5, 0, 0, 0], [0, 0, 0, -4]])
    v = np.float32([[2], [-1]])
    out = np.float32([[0.1, 0.2], [-0.4, 0], [0, 0]])
    mha = layer("MultiHeadAttention", "mha", ["x"], ["y"], {0: embed_dim, 2: embed_dim * qdim, 3: kdim, 4: vdim},
                {"q_weight_data": q, "q_bias_data": np.zeros(2), "k_weight_data": k, "k_bias_data": np.zeros(2),
                 "v_weight_data": v, "v_bias_data": np.zeros(2), "out_weight_data": out, "out_bias": np.zeros(3)})
    scales = mha_scales(mha)
    assert [s.tolist() for s in scales] == [[63.5, 1.0], [254.0, 31.75], [63.5, 127.0], [317.5]]


@pytest.mark.parametrize("type_, gates, params", [("RNN", 1, {0: 2, 1: 6, 2: 2}), ("GRU", 3, {0: 2, 1: 18, 2: 0}),
                                                  ("LSTM", 4, {0: 2, 1: 12, 2: 0, 3: 1})])
def test_rnn_family_scales_per_row_and_direction(type_, gates, params):
    directions = 2 if params[2] == 2 else 1
    hidden = params.get(3, params[0])
    rows = directions * gates * hidden
    size = params[1] // rows
    xc = (np.arange(rows * size, dtype=np.float32).reshape(rows, size) + 1) * 0.5
    hc = np.ones((rows, params[0]), np.float32) * 2
    hc[-1] = 0
    rnn = layer(type_, "r", ["x"], ["y"], params, {"weight_xc_data": xc, "bias_c_data": np.zeros(4),
                                                    "weight_hc_data": hc})
    xc_scales, hc_scales = rnn_scales(rnn)
    assert xc_scales.tolist() == (np.float32(127) / np.abs(xc).max(axis=1)).tolist()
    assert hc_scales.tolist() == [63.5] * (rows - 1) + [1.0]


def test_static_lines_follow_ncnn2table_order():
    embed = layer("Embed", "e", ["x"], ["y"], {0: 1, 1: 2, 3: 2}, {"weight_data": np.float32([1, 2])})
    rnn = layer("RNN", "r", ["y"], ["z"], {0: 1, 1: 1}, {"weight_xc_data": np.float32([1]), "bias_c_data": np.zeros(1),
                                                         "weight_hc_data": np.float32([1])})
    gru = layer("GRU", "g", ["z"], ["w"], {0: 1, 1: 3}, {"weight_xc_data": np.ones(3), "bias_c_data": np.zeros(4),
                                                         "weight_hc_data": np.ones(3)})
    lines = static_weight_lines(Graph([gru, rnn, embed]))
    assert list(lines) == ["e_param_0", "r_param_0", "r_param_1", "g_param_0", "g_param_1"]
