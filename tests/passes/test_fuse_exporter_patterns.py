"""Exporter patterns: x*sigmoid(x) -> Swish, x*hardsigmoid(x) -> HardSwish (then fused into a conv)."""
import pytest

from passgraphs import assert_same_outputs, graph_from, types
from ncnnlike.passes import optimize
from ncnnlike.passes.fuse_exporter_patterns import fuse_hardswish, fuse_swish

CONV_SPLIT = """
    Input in 0 1 x 0=6 1=5 2=3
    Convolution conv 1 1 x c 0=4 1=3 4=1 5=1 6=108
    Split sp 1 %d c %s
"""


@pytest.mark.parametrize("mul_bottoms", ["c1 g", "g c1"])
def test_x_times_sigmoid_x_through_split_becomes_swish(tmp_path, mul_bottoms):
    g = graph_from(CONV_SPLIT % (2, "c0 c1") + """
        Sigmoid s 1 1 c0 g
        BinaryOp mul 2 1 %s y 0=2
    """ % mul_bottoms, tmp_path)
    before, log = g.copy(), []
    assert fuse_swish(g, log.append) == 1
    assert types(g) == ["Input", "Convolution", "Swish"]
    assert (g.layers[2].name, g.layers[2].bottoms, g.layers[2].tops) == ("mul", g.layers[1].tops, ["y"])
    assert log == ["fuse_swish s mul"]
    assert_same_outputs(before, g)


def test_split_with_another_reader_keeps_that_top(tmp_path):
    g = graph_from(CONV_SPLIT % (3, "c0 c1 c2") + """
        Sigmoid s 1 1 c0 g
        BinaryOp mul 2 1 c1 g y 0=2
        ReLU r 1 1 c2 z
    """, tmp_path)
    before = g.copy()
    assert fuse_swish(g) == 1
    assert types(g) == ["Input", "Convolution", "Split", "Swish", "ReLU"] and g.layers[2].tops == ["c0", "c2"]
    assert_same_outputs(before, g)


def test_x_times_sigmoid_x_without_split_becomes_swish(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Sigmoid s 1 1 x g
        BinaryOp mul 2 1 x g y 0=2
    """, tmp_path)
    before = g.copy()
    assert fuse_swish(g) == 1 and types(g) == ["Input", "Swish"] and g.layers[1].bottoms == ["x"]
    assert_same_outputs(before, g)


def test_x_times_sigmoid_of_another_blob_stays(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Input in2 0 1 z 0=6 1=5 2=3
        Sigmoid s 1 1 z g
        BinaryOp mul 2 1 x g y 0=2
    """, tmp_path)
    assert fuse_swish(g) == 0 and len(g.layers) == 4


def test_x_times_hardsigmoid_x_becomes_hardswish_then_fused_into_the_conv(tmp_path):
    g = graph_from(CONV_SPLIT % (2, "c0 c1") + """
        HardSigmoid s 1 1 c0 g 0=1.666667e-01 1=5.000000e-01
        BinaryOp mul 2 1 c1 g y 0=2
    """, tmp_path)
    before = g.copy()
    step = g.copy()
    assert fuse_hardswish(step) == 1 and types(step) == ["Input", "Convolution", "HardSwish"]
    assert step.layers[2].params == {0: pytest.approx(1 / 6), 1: 0.5}
    assert_same_outputs(before, step)
    rewrites = optimize(g)
    assert rewrites == ["fuse_hardswish s mul", "fuse_convolution_activation conv mul"]
    assert types(g) == ["Input", "Convolution"] and g.layers[1].params[9] == 6
    assert_same_outputs(before, g)
