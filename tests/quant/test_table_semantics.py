"""Our table semantics: both lines or float (only that layer), counts, inf only on all-zero channels."""
import numpy as np
import pytest

from helpers import layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.quant.table_semantics import apply_table, roundtrip_f
from ncnnlike.quant.tablefile import parse_table


def small_graph(dw_weights=None):
    """Input -> conv (3->2, 1x1) -> depthwise (2 groups, 3x3) -> fc (18 -> 4)."""
    rng = np.random.default_rng(0)
    dw = rng.standard_normal(18).astype(np.float32) if dw_weights is None else dw_weights
    return Graph([
        layer("Input", "in0", [], ["x"], {0: 3, 1: 3, 2: 3}),
        layer("Convolution", "conv1", ["x"], ["a"], {0: 2, 1: 1, 5: 1, 6: 6},
              {"weight_data": rng.standard_normal(6).astype(np.float32), "bias_data": np.zeros(2, np.float32)}),
        layer("ConvolutionDepthWise", "dw1", ["a"], ["b"], {0: 2, 1: 3, 4: 1, 6: 18, 7: 2},
              {"weight_data": dw}),
        layer("InnerProduct", "fc1", ["b"], ["out"], {0: 4, 2: 72},
              {"weight_data": rng.standard_normal(72).astype(np.float32)}),
    ])


FULL = """conv1_param_0 10.5 20.25
dw1_param_0 30.0 40.0
fc1_param_0 1 2 3 4
conv1 5.5
dw1 6.5
fc1 7.5
"""


def plan_of(text, graph=None):
    return apply_table(graph or small_graph(), parse_table(text, "m.table"))


def test_full_table_quantizes_every_conv_layer_with_its_scales_and_no_warning():
    plan = plan_of(FULL)
    assert list(plan.conv) == ["conv1", "dw1", "fc1"]
    assert plan.conv["conv1"].weight.tolist() == [10.5, 20.25]
    assert plan.conv["dw1"].bottom.tolist() == [6.5]
    assert plan.warnings == []


@pytest.mark.parametrize("name", ["conv1", "dw1", "fc1"])
@pytest.mark.parametrize("which", ["weight", "activation", "both"])
def test_commenting_either_line_keeps_only_that_layer_float_with_a_warning(name, which):
    lines = []
    for line in FULL.splitlines():
        key = line.split()[0]
        hit = (key == name + "_param_0" and which in ("weight", "both")) or \
              (key == name and which in ("activation", "both"))
        lines.append("# " + line if hit else line)
    plan = plan_of("\n".join(lines))
    assert list(plan.conv) == [n for n in ("conv1", "dw1", "fc1") if n != name]
    assert len(plan.warnings) == 1 and name in plan.warnings[0] and "stays float" in plan.warnings[0]


def test_depthwise_needs_group_values_and_the_error_names_file_and_line():
    text = FULL.replace("dw1_param_0 30.0 40.0", "dw1_param_0 30.0 40.0 50.0")
    with pytest.raises(NcnnlikeError, match=r"m\.table:2: .*dw1.*needs 2 values.*has 3"):
        plan_of(text)


def test_conv_weight_line_needs_num_output_values():
    with pytest.raises(NcnnlikeError, match=r"m\.table:1: .*conv1.*needs 2 values.*has 1"):
        plan_of(FULL.replace("conv1_param_0 10.5 20.25", "conv1_param_0 10.5"))


def test_activation_line_needs_exactly_one_value():
    with pytest.raises(NcnnlikeError, match=r"m\.table:6: layer fc1 needs one finite activation scale"):
        plan_of(FULL.replace("fc1 7.5", "fc1 7.5 8.5"))


def test_inf_activation_scale_is_an_error():
    with pytest.raises(NcnnlikeError, match=r"m\.table:4: layer conv1 needs one finite activation scale"):
        plan_of(FULL.replace("conv1 5.5", "conv1 inf"))


def test_inf_weight_scale_of_an_all_zero_channel_becomes_one_with_a_warning():
    dw = np.random.default_rng(1).standard_normal(18).astype(np.float32)
    dw[9:] = 0
    plan = plan_of(FULL.replace("dw1_param_0 30.0 40.0", "dw1_param_0 30.0 inf"), small_graph(dw))
    assert plan.conv["dw1"].weight.tolist() == [30.0, 1.0]
    assert len(plan.warnings) == 1 and "m.table:2" in plan.warnings[0] and "channel(s) 1" in plan.warnings[0]


def test_inf_weight_scale_of_a_nonzero_channel_is_an_error():
    with pytest.raises(NcnnlikeError, match=r"m\.table:2: .*dw1.*scale inf for channel 1, whose weights are not"):
        plan_of(FULL.replace("dw1_param_0 30.0 40.0", "dw1_param_0 30.0 inf"))


def test_line_naming_no_layer_is_a_warning_and_a_table_matching_nothing_is_an_error():
    plan = plan_of(FULL + "pool1 3.0\nconv9_param_0 1.0\n")
    assert [w.split(":")[1] for w in plan.warnings] == ["7", "8"]
    assert "'pool1' names no quantizable layer" in plan.warnings[0]
    with pytest.raises(NcnnlikeError, match=r"table m\.table matches no .* layer of the model"):
        plan_of("other_param_0 1.0\nother 2.0\n")


def test_scales_are_the_printed_percent_f_values():
    assert roundtrip_f([0.0012704, 373.0135192871]).tolist() == [np.float32(0.00127), np.float32(373.013519)]
    plan = plan_of(FULL.replace("conv1 5.5", "conv1 5.12345678"))
    assert plan.conv["conv1"].bottom[0] == np.float32(5.123457)


def test_rnn_layer_with_a_commented_table_line_stays_float_with_a_warning():
    """Mixed precision for RNN/LSTM/GRU: a missing or commented `_param_N` line keeps that layer float."""
    graph = small_graph()
    graph.layers.append(layer("LSTM", "lstm1", ["out"], ["h"], {0: 4, 1: 64},
                              {"weight_xc_data": np.ones(64, np.float32), "bias_c_data": np.zeros(16, np.float32),
                               "weight_hc_data": np.ones(64, np.float32)}))
    plan = plan_of(FULL + "lstm1_param_0 " + "1 " * 16 + "\n#lstm1_param_1 " + "1 " * 16 + "\n", graph)
    assert "lstm1" not in plan.static
    assert any("layer lstm1 (LSTM)" in w and "'lstm1_param_1'" in w and "stays float" in w for w in plan.warnings)
    plan = plan_of(FULL + "lstm1_param_0 " + "1 " * 16 + "\nlstm1_param_1 " + "1 " * 16 + "\n", graph)
    assert len(plan.static["lstm1"]) == 2
    plan = apply_table(graph, None)
    assert "lstm1" not in plan.static and any("no table given" in w for w in plan.warnings)


def test_embed_without_table_lines_stays_float_with_a_warning():
    graph = small_graph()
    graph.layers.append(layer("Embed", "emb1", ["ids"], ["e"], {0: 4, 1: 10, 3: 40},
                              {"weight_data": np.ones(40, np.float32)}))
    plan = plan_of(FULL, graph)
    assert "emb1" not in plan.static and any("emb1" in w and "stays float" in w for w in plan.warnings)
    plan = plan_of(FULL + "emb1_param_0 127.0\n", graph)
    assert plan.static["emb1"][0].tolist() == [127.0]
