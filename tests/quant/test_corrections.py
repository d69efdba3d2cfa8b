"""Bias correction and the rounding optimiser on constructed layers, and the weights-adjustment file
they travel in (model2table correct= adjust=, model2int8 adjust=)."""
from collections import OrderedDict

import numpy as np
import pytest

from helpers import layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.quant import corrections
from ncnnlike.quant.adjustfile import LayerAdjust, read_adjust, write_adjust
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.patches import layer_gemm, sample_patches
from ncnnlike.quant.rounding import optimise_rounding
from ncnnlike.quant.table_semantics import roundtrip_f
from ncnnlike.quant.tablefile import format_line, parse_table
from ncnnlike.quant.weights import weight_scales
from ncnnlike.runtime import Net

RNG = np.random.default_rng(7)


def conv_model(weight, bias=True, kernel=1):
    """Input (C, 6, 6) -> one Convolution with the given (O, C, k, k) weights."""
    out_c, in_c = weight.shape[:2]
    params = {0: out_c, 1: kernel, 4: kernel // 2, 5: int(bias), 6: weight.size}
    weights = {"weight_data": weight.astype(np.float32).reshape(-1)}
    if bias:
        weights["bias_data"] = np.zeros(out_c, np.float32)
    return Graph([layer("Input", "in", [], ["in0"], {0: 6, 1: 6, 2: in_c}),
                  layer("Convolution", "conv", ["in0"], ["out0"], params, weights)])


def table_for(graph, threshold):
    conv = graph.layer("conv")
    text = format_line("conv_param_0", weight_scales(conv)) + format_line("conv", [127.0 / threshold])
    return parse_table(text, "model.table")


def run(graph, x, int8):
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = int8
    return net.run({"in0": x}, ["out0"])["out0"]


def planted_shift_model():
    """Weights of 7.4 steps (0.4 above an integer: nearest rounding takes 0.4 step off every weight)
    and one weight of 127 steps that sets the scale; positive inputs: the int8 output sits below
    the float output by 0.4 step times the input sum, in every channel."""
    w = np.full((4, 16, 1, 1), 7.4 / 127, np.float32)
    w[:, 0] = 1.0
    return conv_model(w)


def test_bias_correction_removes_a_planted_output_shift():
    graph = planted_shift_model()
    x = np.abs(RNG.normal(1.0, 0.3, (32, 16, 6, 6))).astype(np.float32)
    table = table_for(graph, float(np.abs(x).max()))
    line = table.weights["conv_param_0"]
    samples = OrderedDict(in0=x[:16])
    adjust, report = corrections.adjustments(graph, OrderedDict(conv_param_0=line.values),
                                             OrderedDict(conv=table.blobs["conv"].values), samples, ("bias",))
    assert "bias: shift" in report[0]
    fresh = x[16:]                                 # judged on samples the correction did not see
    ref = run(graph, fresh, False)
    plain = run(quantize_graph(graph, table)[0], fresh, "sim") - ref
    fixed = run(quantize_graph(graph, table, adjust)[0], fresh, "sim") - ref
    assert plain.mean() < -0.05 * ref.std()        # the planted shift: every channel reads low
    assert abs(fixed.mean()) < 0.05 * abs(plain.mean())
    assert np.abs(fixed.mean(axis=(0, 2, 3))).max() < 0.1 * np.abs(plain.mean(axis=(0, 2, 3))).min()


def test_bias_correction_adds_a_bias_to_a_layer_without_one():
    w = np.full((4, 16, 1, 1), 7.4 / 127, np.float32)
    w[:, 0] = 1.0
    graph = conv_model(w, bias=False)
    x = np.abs(RNG.normal(1.0, 0.3, (8, 16, 6, 6))).astype(np.float32)
    table = table_for(graph, float(x.max()))
    adjust, _ = corrections.adjustments(graph, OrderedDict(conv_param_0=table.weights["conv_param_0"].values),
                                        OrderedDict(conv=table.blobs["conv"].values), OrderedDict(in0=x), ("bias",))
    out, log = quantize_graph(graph, table, adjust)
    conv = out.layer("conv")
    assert conv.params[5] == 1 and conv.weights["bias_data"].shape == (4,) and (conv.weights["bias_data"] > 0).all()
    assert "adjust_convolution conv (bias)" in log


def seeded_layer():
    """A 3x3 conv 8 -> 16 with random weights and correlated, positive inputs."""
    w = RNG.normal(0, 0.2, (16, 8, 3, 3)).astype(np.float32)
    graph = conv_model(w, kernel=3)
    base = RNG.normal(0, 1, (64, 1, 6, 6))
    x = np.maximum(base + 0.5 * RNG.normal(0, 1, (64, 8, 6, 6)), 0).astype(np.float32)
    return graph, x


def output_mse(gemm, patches, q_weight, scales, bottom):
    y = gemm.int8_output(patches, q_weight, scales, bottom, activate=False)
    return float(np.mean(np.square(y - gemm.output(patches, activate=False))))


def test_rounding_optimiser_lowers_layer_output_mse_versus_nearest():
    graph, x = seeded_layer()
    gemm = layer_gemm(graph.layer("conv"))
    scales = roundtrip_f(weight_scales(graph.layer("conv")))
    bottom = roundtrip_f([127 / float(x.max())])[0]
    fit, fresh = sample_patches(gemm, x[:48], 4096, seed=1), sample_patches(gemm, x[48:], 4096, seed=2)
    result = optimise_rounding(gemm, fit, scales, bottom)
    nearest = gemm.quantize_weight(scales)
    assert result.flips > 0 and result.error < result.error_nearest
    optimised = output_mse(gemm, fresh, result.q_weight, scales, bottom)
    assert optimised < 0.9 * output_mse(gemm, fresh, nearest, scales, bottom)
    ws = gemm.weight * gemm.scales(scales)[:, :, None]       # every weight rounded down or up, never further
    assert np.all((result.q_weight == np.floor(ws)) | (result.q_weight == np.ceil(ws)))
    assert np.abs(result.q_weight).max() <= 31               # a 3x3 stride-1 conv keeps ncnn's 6-bit bound


def test_rounding_optimiser_leaves_an_underdetermined_layer_at_nearest():
    graph, x = seeded_layer()
    gemm = layer_gemm(graph.layer("conv"))
    scales = roundtrip_f(weight_scales(graph.layer("conv")))
    result = optimise_rounding(gemm, sample_patches(gemm, x, 64), scales, np.float32(20.0))
    assert result.skipped and result.flips == 0 and np.array_equal(result.q_weight, gemm.quantize_weight(scales))


def test_adjust_file_round_trip_and_model2int8_applies_only_matching_scales(tmp_path):
    graph, x = seeded_layer()
    table = table_for(graph, float(x.max()))
    adjust, _ = corrections.adjustments(graph, OrderedDict(conv_param_0=table.weights["conv_param_0"].values),
                                        OrderedDict(conv=table.blobs["conv"].values), OrderedDict(in0=x),
                                        ("bias", "round"))
    write_adjust(str(tmp_path / "m.adjust"), adjust)
    back = read_adjust(str(tmp_path / "m.adjust"))
    entry = back["conv"]
    assert entry.what() == "rounding, bias" and entry.weight_int8.dtype == np.int8
    out, log = quantize_graph(graph, table, back)
    assert np.array_equal(out.layer("conv").weights["weight_data"], entry.weight_int8)
    other = parse_table(format_line("conv_param_0", table.weights["conv_param_0"].values)
                        + format_line("conv", [table.blobs["conv"].values[0] * 2]), "other.table")
    out, log = quantize_graph(graph, other, back)
    assert any("scales differ" in line for line in log)
    assert not np.array_equal(out.layer("conv").weights["weight_data"], entry.weight_int8)


def test_adjust_file_errors_are_clear(tmp_path):
    path = tmp_path / "bad.adjust"
    path.write_bytes(b"not a zip")
    with pytest.raises(NcnnlikeError, match="cannot read the weights-adjustment file"):
        read_adjust(str(path))
    np.savez(str(tmp_path / "other.npz"), a=np.zeros(2))
    with pytest.raises(NcnnlikeError, match="not an ncnnlike weights-adjustment file"):
        read_adjust(str(tmp_path / "other.npz"))
    with pytest.raises(NcnnlikeError, match="correct=biass"):
        corrections.parse_corrections("biass")
    entry = LayerAdjust(np.ones(16, np.float32), np.ones(1, np.float32), np.zeros(5, np.int8))
    graph, _ = seeded_layer()
    table = parse_table(format_line("conv_param_0", np.ones(16)) + format_line("conv", [1.0]), "t.table")
    with pytest.raises(NcnnlikeError, match="holds 5 int8 weights"):
        quantize_graph(graph, table, OrderedDict(conv=entry))


@pytest.mark.parametrize("group, stride, dilation", [(1, 1, 1), (4, 2, 1), (8, 1, 2)])
def test_streamed_patch_means_equal_the_mean_of_every_patch(group, stride, dilation):
    """tap_sums (strided sums per kernel tap) = the sum of the patches at every output position."""
    from ncnnlike.quant.bias_correction import PatchMeans
    w = RNG.normal(size=(8, 8 // group, 3, 3)).astype(np.float32)
    params = {0: 8, 1: 3, 2: dilation, 3: stride, 4: 1, 14: 0, 15: 1, 16: 1, 5: 1, 6: w.size, 7: group}
    conv = layer("ConvolutionDepthWise", "c", ["in0"], ["o"], params,
                 {"weight_data": w.reshape(-1), "bias_data": np.zeros(8, np.float32)})
    gemm = layer_gemm(conv)
    x = RNG.normal(size=(3, 8, 7, 9)).astype(np.float32)
    means = PatchMeans(gemm, np.float32(20.0))
    means.update(x[:2])
    means.update(x[2:])
    every = sample_patches(gemm, x, rows=10 ** 6)
    mean_float, mean_int8 = means.means()
    assert np.allclose(mean_float, every.mean(axis=0), atol=1e-6)
    assert np.allclose(mean_int8, np.round(every * 20).clip(-127, 127).mean(axis=0) / 20, atol=1e-6)
