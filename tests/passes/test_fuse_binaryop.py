"""Binary-op folding (spec 4.3 passes 3-4, 6-7, 9-10, 13-14, 22-23): structure and same outputs."""
import numpy as np
import pytest

from passgraphs import assert_same_outputs, graph_from, types
from ncnnlike.passes import fuse_binaryop as fbo

HOSTS = {
    "Convolution": "Convolution conv 1 1 x c 0=4 1=3 4=1 %s 6=144",
    "ConvolutionDepthWise": "ConvolutionDepthWise conv 1 1 x c 0=4 1=3 4=1 %s 6=36 7=4",
    "Deconvolution": "Deconvolution conv 1 1 x c 0=4 1=3 3=2 %s 6=144",
}
MUL_PASSES = {"Convolution": fbo.fuse_convolution_mul, "ConvolutionDepthWise": fbo.fuse_convolutiondepthwise_mul,
              "Deconvolution": fbo.fuse_deconvolution_mul}
ADD_PASSES = {"Convolution": fbo.fuse_convolution_add, "ConvolutionDepthWise": fbo.fuse_convolutiondepthwise_add,
              "Deconvolution": fbo.fuse_deconvolution_add}
INPUT4 = "Input in 0 1 x 0=6 1=5 2=4"


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("bias", ["5=0", "5=1"])
def test_mul_by_per_channel_memorydata_folds_into_weights(tmp_path, host, bias):
    g = graph_from("\n".join([INPUT4, HOSTS[host] % bias, "MemoryData md 0 1 m 0=4",
                              "BinaryOp mul 2 1 c m y 0=2"]), tmp_path)
    before, log = g.copy(), []
    assert MUL_PASSES[host](g, log.append) == 1
    assert types(g) == ["Input", host, "MemoryData"] and g.layers[1].tops == ["y"]
    assert log == ["fuse_%s_mul conv mul" % host.lower()]
    assert_same_outputs(before, g, outputs=["y"])


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("md", ["0=4", "0=1 1=1 2=4"])
def test_add_of_per_channel_memorydata_becomes_bias(tmp_path, host, md):
    g = graph_from("\n".join([INPUT4, HOSTS[host] % "5=0", "MemoryData md 0 1 m %s" % md,
                              "BinaryOp add 2 1 c m y 0=0"]), tmp_path)
    before = g.copy()
    assert ADD_PASSES[host](g) == 1
    conv = g.layers[1]
    assert conv.params[5] == 1 and list(conv.weights) == ["weight_data", "bias_data"]
    np.testing.assert_array_equal(conv.weight("bias_data"), before.layers[2].weight("data").reshape(-1))
    assert_same_outputs(before, g, outputs=["y"])


def test_innerproduct_add_and_dropout_fold(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=12
        InnerProduct fc 1 1 x f 0=5 1=1 2=60
        MemoryData md 0 1 m 0=5
        BinaryOp add 2 1 f m a 0=0
        InnerProduct fc2 1 1 a g 0=3 1=1 2=15
        Dropout drop 1 1 g y 0=5.000000e-01
    """, tmp_path)
    before, log = g.copy(), []
    assert fbo.fuse_innerproduct_add(g, log.append) == 1
    assert fbo.fuse_innerproduct_dropout(g, log.append) == 1
    assert types(g) == ["Input", "InnerProduct", "MemoryData", "InnerProduct"]
    assert log == ["fuse_innerproduct_add fc add", "fuse_innerproduct_dropout fc2 drop"]
    assert_same_outputs(before, g, outputs=["y"])


@pytest.mark.parametrize("op, bottoms, new_op", [(1, "m x", 7), (3, "m x", 8), (0, "m x", 0), (1, "x m", 1),
                                                 (6, "x m", 6)])
def test_scalar_memorydata_becomes_binaryop_scalar(tmp_path, op, bottoms, new_op):
    g = graph_from("""
        Input in 0 1 x 0=4 1=3 2=2
        MemoryData md 0 1 m 0=1
        BinaryOp op 2 1 %s y 0=%d
    """ % (bottoms, op), tmp_path)
    before, log = g.copy(), []
    if op == 6:   # x ** m needs x > 0 to be finite
        g.layers[1].weights["data"] = before.layers[1].weights["data"] = np.array([2.0], np.float32)
    assert fbo.fuse_memorydata_binaryop(g, log.append) == 1
    binop = g.layers[1]
    assert types(g) == ["Input", "BinaryOp"] and binop.bottoms == ["x"]
    assert (binop.params[0], binop.params[1]) == (new_op, 1)
    assert binop.params[2] == float(before.layers[1].weight("data")[0])
    assert log == ["fuse_memorydata_binaryop md op"]
    inputs = {"x": np.abs(np.random.default_rng(3).standard_normal((2, 2, 3, 4))).astype(np.float32) + 0.5}
    assert_same_outputs(before, g, inputs=inputs)


def test_scalar_memorydata_first_operand_of_pow_is_not_fused(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=4 1=3 2=2
        MemoryData md 0 1 m 0=1
        BinaryOp op 2 1 m x y 0=6
    """, tmp_path)
    assert fbo.fuse_memorydata_binaryop(g) == 0 and types(g) == ["Input", "MemoryData", "BinaryOp"]


def test_scalar_memorydata_through_split_feeds_every_binaryop(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=4 1=3 2=2
        Split spx 1 2 x x0 x1
        MemoryData md 0 1 m 0=1
        Split sp 1 2 m m0 m1
        BinaryOp mul 2 1 x0 m0 a 0=2
        BinaryOp sub 2 1 m1 x1 b 0=1
    """, tmp_path)
    before, log = g.copy(), []
    assert fbo.fuse_memorydata_binaryop(g, log.append) == 2
    assert types(g) == ["Input", "Split", "BinaryOp", "BinaryOp"]
    assert [l.params[0] for l in g.layers[2:]] == [2, 7]
    assert log == ["fuse_memorydata_binaryop md mul", "fuse_memorydata_binaryop md sub"]
    assert_same_outputs(before, g)


ELTWISE_GRAPH = """
    Input in 0 1 x 0=4 1=3 2=2
    Input in2 0 1 z %s
    BinaryOp m1 1 1 x a 0=2 1=1 2=5.000000e-01
    %s
    BinaryOp add 2 1 a %s y 0=0
"""


def test_add_of_two_scalar_muls_becomes_eltwise_sum(tmp_path):
    g = graph_from(ELTWISE_GRAPH % ("0=4 1=3 2=2", "BinaryOp m2 1 1 z b 0=2 1=1 2=-2.000000e+00", "b"), tmp_path)
    before, log = g.copy(), []
    assert fbo.fuse_binaryop_eltwise(g, log.append) == 1
    elt = g.layers[2]
    assert types(g) == ["Input", "Input", "Eltwise"] and elt.bottoms == ["x", "z"]
    assert elt.params == {0: 1, 1: [0.5, -2.0]}
    assert log == ["fuse_binaryop_eltwise m1 m2 add"]
    assert_same_outputs(before, g)


def test_add_of_one_scalar_mul_becomes_eltwise_with_coeff_one(tmp_path):
    g = graph_from(ELTWISE_GRAPH % ("0=4 1=3 2=2", "", "z"), tmp_path)
    before, log = g.copy(), []
    assert fbo.fuse_binaryop_eltwise(g, log.append) == 1
    assert g.layers[2].params == {0: 1, 1: [0.5, 1.0]} and log == ["fuse_binaryop_eltwise m1 add add"]
    assert_same_outputs(before, g)


def test_broadcasting_add_is_not_made_eltwise(tmp_path):
    g = graph_from(ELTWISE_GRAPH % ("0=1 1=1 2=2", "", "z"), tmp_path)
    assert fbo.fuse_binaryop_eltwise(g) == 0 and types(g)[-1] == "BinaryOp"
