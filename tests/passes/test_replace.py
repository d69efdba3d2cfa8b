"""Layer replacements (spec 4.3 passes 15, 16, 31, 32): structure and same outputs."""
import numpy as np
import pytest

from passgraphs import assert_same_outputs, graph_from, random_inputs, run, types
from ncnnlike.passes import replace

REDUCTIONS = """
    Input in 0 1 x %s
    Reduction r1 1 1 x a 0=3 1=0 -23303=1,%d %s 5=1
    Reduction r2 1 1 a y 0=3 1=0 -23303=1,%d 5=1
"""


@pytest.mark.parametrize("axis1, axis2", [(2, 1), (1, 1), (-1, -1)])
def test_mean_reduction_pair_over_h_and_w_becomes_global_avg_pooling(tmp_path, axis1, axis2):
    g = graph_from(REDUCTIONS % ("0=6 1=5 2=3", axis1, "", axis2), tmp_path)
    before, log = g.copy(), []
    assert replace.replace_reduction_with_global_pooling(g, log.append) == 1
    pool = g.layers[1]
    assert types(g) == ["Input", "Pooling"] and (pool.name, pool.bottoms, pool.tops) == ("r2", ["x"], ["y"])
    assert pool.params == {0: 1, 4: 1}
    assert log == ["replace_reduction_with_global_pooling r1 r2"]
    assert_same_outputs(before, g)


@pytest.mark.parametrize("input_params, keepdims, axis2", [
    ("0=6 1=5 2=3", "4=1", 1),     # keepdims: (c, h, 1) -> (c, 1), not global pooling
    ("0=6 1=5 2=3", "", 0),        # second reduction over c
    ("0=6 1=5", "", 0),            # 2-D input
    ("", "", 1),                   # shapes unknown: ncnn's raw-axes test cannot be trusted
])
def test_reduction_pair_that_is_not_global_pooling_stays(tmp_path, input_params, keepdims, axis2):
    g = graph_from(REDUCTIONS % (input_params, 2, keepdims, axis2), tmp_path)
    assert replace.replace_reduction_with_global_pooling(g) == 0
    assert types(g) == ["Input", "Reduction", "Reduction"]


def test_single_slope_prelu_becomes_leaky_relu(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        PReLU p1 1 1 x a 0=1
        PReLU p3 1 1 a y 0=3
    """, tmp_path)
    before, log = g.copy(), []
    assert replace.replace_prelu_with_leaky_relu(g, log.append) == 1
    assert types(g) == ["Input", "ReLU", "PReLU"] and g.layers[1].weights == {}
    assert g.layers[1].params == {0: float(before.layers[1].weight("slope_data")[0])}
    assert log == ["replace_prelu_with_leaky_relu p1"]
    assert_same_outputs(before, g)


def _outputs_equal(graph, reference, blob):
    inputs = random_inputs(graph)
    got, want = run(graph, inputs, [blob])[blob], run(reference, inputs, [blob])[blob]
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=0, atol=1e-5)


def test_1x1_convolution_after_global_pooling_becomes_innerproduct(tmp_path):
    lines = """
        Input in 0 1 x 0=6 1=5 2=3
        Pooling gp 1 1 x p 0=1 %s
        Convolution conv 1 1 p y 0=4 1=1 5=1 6=12 9=2 -23310=1,1.000000e-01
    """
    g = graph_from(lines % "4=1", tmp_path)
    log = []
    assert replace.replace_convolution_with_innerproduct_after_global_pooling(g, log.append) == 1
    ip = g.layers[2]
    assert types(g) == ["Input", "Pooling", "InnerProduct"] and ip.name == "conv"
    assert ip.params == {0: 4, 1: 1, 2: 12, 9: 2, 10: [pytest.approx(0.1)]}
    assert list(ip.weights) == ["weight_data", "bias_data"]
    assert log == ["replace_convolution_with_innerproduct_after_global_pooling gp conv"]
    _outputs_equal(g, graph_from(lines % "1=6 11=5", tmp_path), "y")   # reference: a (c, 1, 1) avg pool


def test_padded_or_larger_convolution_after_global_pooling_stays(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Pooling gp 1 1 x p 0=1 4=1
        Convolution conv 1 1 p y 0=4 1=3 4=1 6=108
    """, tmp_path)
    assert replace.replace_convolution_with_innerproduct_after_global_pooling(g) == 0


def test_convolutions_after_innerproduct_become_innerproducts_in_a_chain(tmp_path):
    lines = """
        Input in 0 1 x 0=12
        InnerProduct fc 1 1 x f 0=5 1=1 2=60
        %s
        Convolution c1 1 1 %s a 0=4 1=1 5=1 6=20 9=1
        Convolution c2 1 1 a y 0=3 1=1 6=12
    """
    g = graph_from(lines % ("", "f"), tmp_path)
    log = []
    assert replace.replace_convolution_with_innerproduct_after_innerproduct(g, log.append) == 2
    assert types(g) == ["Input"] + ["InnerProduct"] * 3
    assert log == ["replace_convolution_with_innerproduct_after_innerproduct fc c1",
                   "replace_convolution_with_innerproduct_after_innerproduct c1 c2"]
    reference = graph_from(lines % ("Reshape r 1 1 f f3 0=1 1=1 2=5", "f3"), tmp_path)
    _outputs_equal(g, reference, "y")
