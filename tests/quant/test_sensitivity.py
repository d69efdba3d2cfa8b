"""Sensitivity ranking and automatic mixed precision on small models with deliberately hard layers.

Most tests judge trials by the output cosine (metric="cosine"), whose values the hard layer moves
far; the task-proxy metric and the cached ranking have their own tests below."""
from collections import OrderedDict

import numpy as np
import pytest

from hard_layer_model import HARD, LAYERS, batches, hard_graph, minmax_table
from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import OutputStats, reference_outputs
from ncnnlike.quant.convert import quantize_graph, quantized_layers
from ncnnlike.quant.sensitivity import (Trial, Trials, auto_mixed, best_mixed, format_mixed, format_sensitivity,
                                        mixed_table_text, ranking, sensitivity, table_without)
from ncnnlike.quant.tablefile import parse_table, read_table
from ncnnlike.runtime import Net


def make_trials(graph, tmp_path, samples=None):
    samples = samples or batches()
    path = minmax_table(graph, samples, tmp_path / "model.table")
    net = Net.from_graph(graph)
    return Trials(graph, read_table(path), samples, reference_outputs(net, samples), int8="sim", metric="cosine"), path


def two_hard_graph():
    """conv_c and conv_d both hard: conv_c's output channel 0 is made huge and conv_d ignores it."""
    graph = hard_graph()
    c, d = graph.layer("conv_c"), graph.layer("conv_d")
    w_c = c.weight("weight_data").reshape(8, 8, 3, 3)
    w_c[0] = np.abs(w_c[0]) * 1000
    w_c[0, 0] = 0
    c.weights["weight_data"] = w_c.reshape(-1)
    w_d = d.weight("weight_data").reshape(8, 8)
    w_d[:, 0] = 0
    d.weights["weight_data"] = w_d.reshape(-1)
    return graph


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    trials, path = make_trials(hard_graph(), tmp_path_factory.mktemp("hard"))
    return trials, path, sensitivity(trials, ("float_one", "quantize_one"))


def test_dropping_an_activation_line_keeps_just_that_layer_float(hard):
    trials, _, _ = hard
    out, _ = quantize_graph(trials.graph, table_without(trials.table, {HARD}))
    assert quantized_layers(out) == [name for name in LAYERS if name != HARD]


def test_float_one_ranking_puts_the_huge_range_layer_first(hard):
    trials, _, found = hard
    order = ranking(found, "float_one")
    assert order[0] == HARD
    assert found[HARD].float_one.score > 0.99 > trials.all_int8().score
    assert all(found[name].float_one.score < 0.9 for name in order[1:])


def test_quantize_one_ranking_puts_the_huge_range_layer_first(hard):
    _, _, found = hard
    order = ranking(found, "quantize_one")
    assert order[0] == HARD
    assert found[HARD].quantize_one.score < 0.9
    assert all(found[name].quantize_one.score > 0.99 for name in order[1:])


def test_auto_mixed_keeps_only_the_hard_layer_float(hard):
    trials, _, found = hard
    result = auto_mixed(trials, ranking(found), 0.99)
    assert result.met and result.float_layers == [HARD]
    assert result.before.score < 0.9 and result.after.score >= 0.99
    assert "layers kept float: 1 of 5 (conv_c)" in format_mixed(result, 5)


def test_auto_mixed_needs_no_float_layer_when_int8_already_meets_the_target(hard):
    trials, _, found = hard
    result = auto_mixed(trials, ranking(found), 0.5)
    assert result.met and result.float_layers == [] and result.after is result.before


def test_trials_are_memoized_so_the_search_reuses_the_sensitivity_runs(hard):
    trials, _, found = hard
    runs = trials.runs
    auto_mixed(trials, ranking(found), 0.99)
    assert trials.runs == runs   # {conv_c} was measured by float_one: nothing new to run


def test_auto_mixed_finds_both_hard_layers_and_no_others(tmp_path):
    trials, _ = make_trials(two_hard_graph(), tmp_path)
    found = sensitivity(trials, ("float_one",))
    result = auto_mixed(trials, ranking(found), 0.99)
    assert result.met and sorted(result.float_layers) == ["conv_c", "conv_d"]
    assert result.after.score >= 0.99
    # fewer than one trial per subset: sensitivity (5) + all-int8 + gallop/bisect/prune
    assert trials.runs <= 5 + 1 + 3 + 2 + 3


def test_unreachable_target_is_reported_not_met(hard):
    trials, _, _ = hard
    result = auto_mixed(trials, ["conv_a", "conv_b"], 0.99)   # the hard layer is not allowed to stay float
    assert not result.met and result.float_layers == ["conv_a", "conv_b"]
    assert result.after is trials.measure({"conv_a", "conv_b"}) and result.after.score < 0.99
    assert "NOT met" in format_mixed(result, 5)


def test_mixed_table_comments_out_only_the_hard_activation_line_with_its_effect(hard):
    trials, path, found = hard
    order = ranking(found)
    result = auto_mixed(trials, order, 0.99)
    with open(path) as f:
        original = f.read()
    text = mixed_table_text(original, trials.table, result, found, order, 32)
    lines = text.splitlines()
    assert lines[0].startswith("# model-compare automatic mixed precision: 1 of 5 layers kept float")
    commented = [line for line in lines[1:] if line.startswith("#")]
    assert len(commented) == 1 and commented[0].startswith("#conv_c ")
    assert "rank 1 of 5" in commented[0] and "float alone: top-1 agreement" in commented[0]
    moved = commented[0].split("float alone:")[1].split("cosine ")[1]
    before, after = (float(v) for v in moved.split(" (")[0].split(" -> "))
    assert after > before and moved.split(" (")[1].startswith("up)")   # measured up, and the note says so
    assert [l for l in lines[1:] if not l.startswith("#")] == \
        [l for l in original.splitlines() if not l.startswith("conv_c ")]
    table = parse_table(text, "mixed.table")
    assert "conv_c" not in table.blobs and "conv_c_param_0" in table.weights
    out, _ = quantize_graph(trials.graph, table)
    assert quantized_layers(out) == ["conv_a", "conv_b", "conv_d", "fc"]


def test_sensitivity_report_lists_layers_most_sensitive_first(hard):
    trials, _, found = hard
    text = format_sensitivity(found, ranking(found))
    assert text.splitlines()[2].split()[:2] == ["1", HARD]


def test_bad_target_and_unknown_layers_are_clear_errors(hard):
    trials, _, found = hard
    with pytest.raises(NcnnlikeError, match="target=1.5"):
        auto_mixed(trials, ranking(found), 1.5)
    with pytest.raises(NcnnlikeError, match="gap is not quantized"):
        trials.measure({"gap"})
    with pytest.raises(NcnnlikeError, match="unknown sensitivity mode"):
        sensitivity(trials, ("everything",))


class ScriptedTrials:
    """Stands in for Trials: the output cosine of each float set comes from a function."""

    def __init__(self, candidates, score_of):
        self.candidates, self.score_of, self.runs = candidates, score_of, 0

    def measure(self, float_layers):
        self.runs += 1
        stats = OutputStats(cos_sum=self.score_of(frozenset(float_layers)), agree=1, samples=1)
        return Trial(frozenset(float_layers), OrderedDict(out=stats), "cosine")

    def all_int8(self):
        return self.measure(())

    def only_int8(self, name):
        return self.measure(set(self.candidates) - {name})


def test_an_optimistic_fast_search_is_extended_until_the_exact_figures_meet_the_target():
    names = ["a", "b", "c", "d"]
    fast = ScriptedTrials(names, lambda kept: 0.9 + 0.1 * ("a" in kept))              # a alone is enough
    exact = ScriptedTrials(names, lambda kept: 0.9 + 0.06 * ("a" in kept) + 0.04 * ("c" in kept))
    result = auto_mixed(fast, ["a", "b", "c", "d"], 0.99, verify=exact)
    assert result.met and result.float_layers == ["a", "b", "c"]   # b, then c added by the exact check
    assert result.before.score == pytest.approx(0.9) and result.after.score == pytest.approx(1.0)
    assert [step for step, _ in result.steps][-3:] == ["confirm 1 float", "confirm: also keep b",
                                                        "confirm: also keep c"]


def test_the_exact_confirmation_runs_once_when_the_fast_answer_holds(hard):
    trials, _, found = hard
    fast = Trials(trials.graph, trials.table, trials.batches, trials.reference, int8="fast", metric="cosine")
    runs = trials.runs
    result = auto_mixed(fast, ranking(found), 0.99, verify=trials)
    assert result.met and result.float_layers == [HARD] and result.after is trials.measure({HARD})
    assert trials.runs == runs    # all-int8 and {conv_c} were measured by the ranking already


def test_rank_both_keeps_the_search_that_needs_fewer_float_layers(monkeypatch):
    """c and d fix the same problem (each looks best kept float alone), a and b two others: the
    float_one ranking starts with c, d; the quantize_one ranking finds a and b."""
    import ncnnlike.quant.mixed as mixed
    monkeypatch.setattr(mixed, "PRUNE_LIMIT", 0)
    names = ["a", "b", "c", "d"]
    trials = ScriptedTrials(names, lambda kept: 0.9 + 0.05 * bool(kept & {"c", "d"}) + 0.045 * ("a" in kept)
                            + 0.045 * ("b" in kept))
    found = sensitivity(trials, ("float_one", "quantize_one"))
    assert ranking(found, "float_one")[:2] == ["c", "d"] and ranking(found, "quantize_one")[:2] == ["a", "b"]
    assert auto_mixed(trials, ranking(found, "float_one"), 0.989).float_layers == ["a", "c", "d"]
    result, order = best_mixed(trials, found, ("float_one", "quantize_one"), 0.989)
    assert result.met and result.float_layers == ["a", "b"] and order == ranking(found, "quantize_one")
    assert result.ranking == "quantize_one" and "[quantize_one ranking]" in format_mixed(result, 4)


def test_a_later_ranking_is_searched_only_for_answers_with_fewer_float_layers():
    names = ["a", "b", "c", "d"]
    trials = ScriptedTrials(names, lambda kept: 0.9 + 0.05 * len(kept & {"a", "b"}))     # needs a and b
    assert auto_mixed(trials, names, 0.99, limit=1) is None
    runs = trials.runs
    assert auto_mixed(trials, names, 0.99, limit=2).float_layers == ["a", "b"]
    assert trials.runs - runs <= 6        # all-int8, prefixes 1 and 2, two prune tries, the confirmation
