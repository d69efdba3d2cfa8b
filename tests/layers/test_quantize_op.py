"""The fast path's own float -> int8 op (layers/quantize_op.py, _quantize_op.h): ncnn's x86
float2int8(x * scale) bit for bit, ties rounded away from zero as ncnn does (QuantizeLinear rounds
them to even), one node instead of QuantizeLinear + Clip. Skipped where the CPU lacks
AVX512-VNNI/VBMI."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.graph import Graph
from ncnnlike.layers import int8, quantize_op
from ncnnlike.runtime.lower import lower_to_bytes

needs_kernel = pytest.mark.skipif(not quantize_op.usable((1,)), reason="no AVX512-VNNI/VBMI here, or not built")


@needs_kernel
def test_the_kernel_is_ncnns_float2int8_with_its_clamps():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 40, 1000), np.arange(-130, 131) + 0.5, [0.0, -0.0, 1e30, -1e30]])
    x = x.astype(np.float32)
    for scale in (1.0, 0.37, 3.1):
        y = quantize_op.run(x, scale)
        ref = int8.float2int8(x * np.float32(scale)).astype(np.int16) + 128
        np.testing.assert_array_equal(y, ref)
    assert quantize_op.run(np.float32([0.5, -0.5, 1.5, -2.5]), 1.0).tolist() == [129, 127, 130, 125]  # away from 0
    special = quantize_op.run(np.float32([np.nan, np.inf, -np.inf]), 1.0)
    assert special.tolist() == [1, 255, 1]        # NaN to -127, as the clamp of the x86 conversion's result


def unit_conv(bottom, top, c, s_in):
    """A 1x1 int8 conv with unit weights and weight scale 1: its output is the sum of q_in."""
    return layer("Convolution", "conv_" + top, [bottom], [top], {0: 1, 1: 1, 6: c, 8: 2},
                 {"weight_data": np.ones(c, np.int8), "weight_data_int8_scales": np.float32([1.0]),
                  "bottom_blob_int8_scales": np.float32([s_in])})


@needs_kernel
def test_fast_mode_rounds_ties_as_ncnn_where_quantizelinear_did_not():
    x = np.float32([1.25, 3.25, -1.25, 0.75, 100.0, -100.0]).reshape(1, 6, 1, 1)   # x * 2: ties, clamps
    l = [layer("ReLU", "r", ["x"], ["a"], {0: 1.0}), unit_conv("a", "y", 6, 2.0)]   # slope 1: a == x
    fast, sim = (run_layers(l, {"x": x}, int8=mode)["y"] for mode in (True, "sim"))
    assert fast.ravel()[0] == sim.ravel()[0] == (3 + 7 - 3 + 2 + 127 - 127) / 2      # sum(q) / (s_in * w_scale)


@needs_kernel
def test_the_op_replaces_quantizelinear_and_its_clip():
    graph = Graph([layer("Input", "in", [], ["x"]), layer("ReLU", "r", ["x"], ["a"], {0: 0.5}),
                   unit_conv("a", "y", 4, 3.0), unit_conv("x", "z", 4, 3.0)])
    _, _, ctx, _ = lower_to_bytes(graph, {"x": (4, 3, 5)}, ["y", "z"], int8=True)
    ops = [n.op_type for n in ctx.nodes]
    assert ops.count(quantize_op.OP) == 2 and "QuantizeLinear" not in ops and "Clip" not in ops
    inner, outer = (n for n in ctx.nodes if n.op_type == quantize_op.OP)
    assert outer.input == ["x"] and (outer.output[0], 2, ["N", 4, 3, 5]) in ctx.value_infos   # a network input
    assert inner.input != ["a"] and (inner.output[0], 2, ["N", 3, 5, 4]) in ctx.value_infos   # channels last


def _packed_session(scale, pad, tasks):
    import onnxruntime as ort
    from onnx import TensorProto, helper
    from ncnnlike.layers import dw_vnni
    node = helper.make_node(quantize_op.OP, ["x"], ["y"], domain="ncnnlike", scale=float(scale), pad=pad, tasks=tasks)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ncnnlike", 1)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = tasks
    dw_vnni.register(so)
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


@needs_kernel
@pytest.mark.parametrize("c", [1, 2, 3])
def test_a_stem_input_is_quantized_into_four_channels_last_bytes(c):
    """pad=: an NCHW image of 1-3 channels -> (N, H, W, 4) bytes, ncnn's float2int8 + 128 of each
    channel and the pad byte in the rest: over chunk boundaries (65536 pixels) and a tail of 7."""
    rng = np.random.default_rng(c)
    x = rng.normal(0, 60, (2, c, 261, 263)).astype(np.float32)
    x[0, 0, 0, :4] = [np.nan, 1e30, -1e30, 0.5]
    ref = np.full((2, 261, 263, 4), 77, np.int16)
    with np.errstate(invalid="ignore"):
        ref[..., :c] = int8.float2int8(x.transpose(0, 2, 3, 1) * np.float32(0.7)).astype(np.int16) + 128
    ref[0, 0, 0, 0] = 1           # NaN to -127, as the x86 conversion's INT_MIN clamped (the plain op's test)
    for tasks in (1, 2):
        np.testing.assert_array_equal(_packed_session(0.7, 77, tasks).run(None, {"x": x})[0], ref)


@needs_kernel
def test_a_packed_input_of_other_than_one_to_three_channels_gives_no_output():
    for shape in ((1, 4, 5, 5), (1, 3, 5)):
        assert _packed_session(1.0, 128, 1).run(None, {"x": np.ones(shape, np.float32)})[0].shape == (0,)


@needs_kernel
def test_lite0s_stem_input_is_packed_by_the_op_without_pad_nodes():
    rng = np.random.default_rng(2)
    w = rng.integers(-60, 60, (32, 3, 3, 3)).astype(np.int8)
    stem = layer("Convolution", "stem", ["x"], ["y"], {0: 32, 1: 3, 3: 2, 4: 1, 5: 0, 6: w.size, 8: 101, 9: 3,
                                                      10: [0.0, 6.0]},
                 {"weight_data": w.ravel(), "weight_data_int8_scales": rng.uniform(30, 150, 32).astype(np.float32),
                  "bottom_blob_int8_scales": np.float32([64.0]), "top_blob_int8_scales": np.float32([20.0])})
    graph = Graph([layer("Input", "in", [], ["x"]), stem])
    _, _, ctx, _ = lower_to_bytes(graph, {"x": (3, 16, 16)}, ["y"], int8=True)
    ops = [n.op_type for n in ctx.nodes]
    assert "Pad" not in ops and ops[:3] == [quantize_op.OP, "Transpose", "QLinearConv"]
    x = rng.normal(0, 1, (2, 3, 16, 16)).astype(np.float32)
    fast, sim = (run_layers([stem], {"x": x}, int8=mode)["y"] for mode in (True, "sim"))
    assert np.abs(fast.astype(np.float64) - sim).max() <= 1 / 20.0 + 1e-6     # within one step, as QLinearConv
