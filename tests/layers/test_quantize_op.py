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
