"""Eliminations (spec 4.3 passes 24-30, 33, 34): what goes, what must stay, same outputs."""
import pytest

from passgraphs import assert_same_outputs, graph_from, types
from ncnnlike.passes import eliminate as el

CONV = """
    Input in 0 1 x 0=6 1=5 2=3
    Convolution conv 1 1 x c 0=4 1=3 4=1 5=1 6=108
"""


@pytest.mark.parametrize("line, fn, name", [
    ("Dropout d 1 1 c y", el.eliminate_dropout, "eliminate_dropout"),
    ("Pooling d 1 1 c y 0=0 1=1", el.eliminate_pooling1x1, "eliminate_pooling1x1"),
    ("Pooling d 1 1 c y 0=1 1=1", el.eliminate_pooling1x1, "eliminate_pooling1x1"),
    ("Noop d 1 1 c y", el.eliminate_noop, "eliminate_noop"),
    ("Split d 1 1 c y", el.eliminate_split, "eliminate_split"),
])
def test_identity_layer_goes_and_its_producer_takes_its_top(tmp_path, line, fn, name):
    g = graph_from(CONV + line, tmp_path)
    before, log = g.copy(), []
    assert fn(g, log.append) == 1
    assert types(g) == ["Input", "Convolution"] and g.layers[1].tops == ["y"]
    assert log == ["%s conv d" % name]
    assert_same_outputs(before, g)


@pytest.mark.parametrize("line, fn", [
    ("Dropout d 1 1 c y 0=5.000000e-01", el.eliminate_dropout),
    ("Pooling d 1 1 c y 0=1 1=1 3=1", el.eliminate_pooling1x1),
    ("Pooling d 1 1 c y 0=0 1=1 2=2", el.eliminate_pooling1x1),
])
def test_layer_that_computes_something_stays(tmp_path, line, fn):
    g = graph_from(CONV + line, tmp_path)
    assert fn(g) == 0 and len(g.layers) == 3


def test_dropout_after_input_keeps_the_input_name(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Dropout d 1 1 x dx
        ReLU r 1 1 dx y
        Input in2 0 1 x2 0=4
        Dropout d2 1 1 x2 z
    """, tmp_path)
    before = g.copy()
    assert el.eliminate_dropout(g) == 1
    assert types(g) == ["Input", "ReLU", "Input", "Dropout"]   # d2's top is a network output: it stays
    assert g.layers[1].bottoms == ["x"] and g.input_names() == ["x", "x2"]
    assert_same_outputs(before, g)


def test_split_top_that_is_a_network_output_is_kept(tmp_path):
    g = graph_from(CONV + """
        Split sp 1 2 c out0 c1
        ReLU r 1 1 c1 y
    """, tmp_path)
    before = g.copy()
    assert el.eliminate_split(g) == 0
    assert "out0" in g.output_names()
    assert_same_outputs(before, g)


def test_noop_without_bottoms_is_dropped(tmp_path):
    g = graph_from(CONV + "Noop n 0 1 nothing", tmp_path)
    log = []
    assert el.eliminate_noop(g, log.append) == 1 and types(g) == ["Input", "Convolution"]
    assert log == ["eliminate_noop n"]


def test_noop_gathering_two_heads_is_bypassed_through_its_first_bottom(tmp_path):
    """yolo-fastestv2's `Noop output 2 1 a b output`: ncnnoptimize renames a to output, b stays an output."""
    g = graph_from(CONV + "ReLU r 1 1 x b\nNoop n 2 1 c b y", tmp_path)
    log = []
    assert el.eliminate_noop(g, log.append) == 1
    assert types(g) == ["Input", "Convolution", "ReLU"] and g.layers[1].tops == ["y"]
    assert log == ["eliminate_noop conv n"] and g.output_names() == ["y", "b"]


GLOBAL_POOL = """
    Input in 0 1 x 0=6 1=5 2=3
    Pooling gp 1 1 x p 0=1 4=1
"""


@pytest.mark.parametrize("line, fn, kept", [
    ("Flatten f 1 1 p y", el.eliminate_flatten_after_global_pooling, False),
    ("Reshape f 1 1 p y 0=-1", el.eliminate_reshape_after_global_pooling, False),
    ("Reshape f 1 1 p y 0=3", el.eliminate_reshape_after_global_pooling, False),
    ("Reshape f 1 1 p y 0=1 1=3", el.eliminate_reshape_after_global_pooling, True),
])
def test_flatten_or_1d_reshape_after_global_pooling_goes(tmp_path, line, fn, kept):
    g = graph_from(GLOBAL_POOL + line, tmp_path)
    before = g.copy()
    assert fn(g) == (0 if kept else 1)
    if not kept:
        assert types(g) == ["Input", "Pooling"] and g.layers[1].tops == ["y"]
    assert_same_outputs(before, g)


@pytest.mark.parametrize("vector_shape, fused", [("0=3", True), ("0=3 1=1 2=1", False)])
def test_reshape_to_c11_before_binaryop_goes_for_a_1d_blob(tmp_path, vector_shape, fused):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Input in2 0 1 v %s
        Reshape r 1 1 v v3 0=1 1=1 2=3
        BinaryOp mul 2 1 x v3 y 0=2
    """ % vector_shape, tmp_path)
    before, log = g.copy(), []
    assert el.eliminate_reshape_before_binaryop(g, log.append) == int(fused)
    if fused:
        assert types(g) == ["Input", "Input", "BinaryOp"] and g.layers[2].bottoms == ["x", "v"]
        assert log == ["eliminate_reshape_before_binaryop r mul"]
    assert_same_outputs(before, g)


@pytest.mark.parametrize("input_params, weights, fused", [("0=6 1=5 2=3", 450, True),
                                                          ("0=6 1=4", 30, False)])   # rows in, rows out
def test_flatten_after_innerproduct_goes_when_its_output_is_1d(tmp_path, input_params, weights, fused):
    g = graph_from("""
        Input in 0 1 x %s
        InnerProduct fc 1 1 x f 0=5 1=1 2=%d
        Flatten fl 1 1 f y
    """ % (input_params, weights), tmp_path)
    before = g.copy()
    assert el.eliminate_flatten_after_innerproduct(g) == int(fused)
    assert len(g.layers) == 3 - fused
    assert_same_outputs(before, g)


def test_orphaned_memorydata_goes_and_used_one_stays(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=4
        MemoryData used 0 1 m 0=4
        MemoryData orphan 0 1 o 0=4
        BinaryOp add 2 1 x m y 0=0
    """, tmp_path)
    log = []
    assert el.eliminate_orphaned_memorydata(g, log.append) == 1
    assert [l.name for l in g.layers] == ["in", "used", "add"] and log == ["eliminate_orphaned_memorydata orphan"]
