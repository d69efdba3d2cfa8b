"""quant/patches.py: a layer as weight rows times input patches equals the runtime's layer, float and int8."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.patches import fake_quant, layer_gemm, sample_patches
from ncnnlike.quant.table_semantics import roundtrip_f
from ncnnlike.quant.tablefile import parse_table, format_line
from ncnnlike.quant.weights import weight_scales
from ncnnlike.graph import Graph

RNG = np.random.default_rng(3)


def conv_layer(type_, group=1, act=(0, None), kernel=3, stride=2):
    """A 8->8 conv with asymmetric padding, stride and a fused activation."""
    w = RNG.normal(size=(8, 8 // group, kernel, kernel)).astype(np.float32)
    params = {0: 8, 1: kernel, 3: stride, 4: 1, 14: 0, 15: 1, 16: 1, 5: 1, 6: w.size, 9: act[0]}
    if act[1] is not None:
        params[10] = act[1]
    if type_ == "ConvolutionDepthWise":
        params[7] = group
    return layer(type_, "L", ["in0"], ["out"], params,
                 {"weight_data": w.reshape(-1), "bias_data": RNG.normal(size=8).astype(np.float32)})


def all_positions(gemm, x, y):
    """(R, G, O) of every output position in order, and the runtime's output laid out the same way."""
    patches = sample_patches(gemm, x, rows=10 ** 6)
    return patches, np.moveaxis(y, 1, -1).reshape(len(patches), gemm.weight.shape[0], -1)


@pytest.mark.parametrize("type_, group, act", [("Convolution", 1, (3, [0.0, 1.5])),
                                               ("ConvolutionDepthWise", 8, (1, None)),
                                               ("ConvolutionDepthWise", 4, (6, [0.2, 0.5]))])
def test_conv_patches_times_weights_equal_the_runtime_layer(type_, group, act):
    conv = conv_layer(type_, group, act)
    x = RNG.normal(size=(2, 8, 7, 9)).astype(np.float32)
    y = run_layers([conv], {"in0": x}, ["out"], int8=False)["out"]
    gemm = layer_gemm(conv)
    patches, expected = all_positions(gemm, x, y)
    assert np.allclose(gemm.output(patches), expected, atol=1e-5)


def test_innerproduct_rows_of_a_2d_bottom_are_separate_samples():
    w = RNG.normal(size=(5, 6)).astype(np.float32)
    ip = layer("InnerProduct", "L", ["in0"], ["out"], {0: 5, 1: 1, 2: 30},
               {"weight_data": w.reshape(-1), "bias_data": RNG.normal(size=5).astype(np.float32)})
    x = RNG.normal(size=(3, 4, 6)).astype(np.float32)
    y = run_layers([ip], {"in0": x}, ["out"], int8=False)["out"]
    gemm = layer_gemm(ip)
    patches = sample_patches(gemm, x, rows=10 ** 6)
    assert patches.shape == (12, 1, 6)
    assert np.allclose(gemm.output(patches)[:, 0], y.reshape(12, 5), atol=1e-5)


def test_int8_output_equals_ncnn_arithmetic_in_the_runtime():
    """The patch form of the int8 layer (input fake-quantized, weights rounded with their scales)
    equals the runtime's int8 simulation of ncnn, up to float summation order."""
    conv = conv_layer("Convolution", 1, (1, None), stride=1)
    x = np.abs(RNG.normal(size=(2, 8, 6, 6))).astype(np.float32)
    scales = roundtrip_f(weight_scales(conv))
    bottom = roundtrip_f([127 / 2.5])[0]
    table = parse_table(format_line("L_param_0", scales) + format_line("L", [bottom]))
    graph = Graph([layer("Input", "in", [], ["in0"]), conv])
    int8_graph, _ = quantize_graph(graph, table)
    y = run_layers(int8_graph.layers[1:], {"in0": x}, ["out"], int8="sim")["out"]
    gemm = layer_gemm(conv)
    patches, expected = all_positions(gemm, x, y)
    got = gemm.int8_output(patches, gemm.quantize_weight(scales), scales, bottom)
    assert np.allclose(got, expected, atol=1e-4)


def test_fake_quant_rounds_half_away_from_zero_and_clips_at_127_steps():
    got = fake_quant(np.array([0.25, -0.25, 0.75, 0.7, 200.0, -200.0], np.float32), 2.0)
    assert got.tolist() == [0.5, -0.5, 1.0, 0.5, 63.5, -63.5]


def test_sampled_patches_are_a_seeded_subset_of_all_positions():
    conv = conv_layer("Convolution", stride=1)
    x = RNG.normal(size=(2, 8, 7, 9)).astype(np.float32)
    gemm = layer_gemm(conv)
    every = sample_patches(gemm, x, rows=10 ** 6).reshape(-1, 72)
    some = sample_patches(gemm, x, rows=64, seed=5)
    assert some.shape == (64, 1, 72) and np.array_equal(some, sample_patches(gemm, x, rows=64, seed=5))
    assert all((every == row).all(axis=1).any() for row in some.reshape(64, 72))
