"""The cached ranking (quick_sensitivity, quant/downstream.py), every quantized layer type as a
candidate, the task-proxy metric and the held-apart figures of automatic mixed precision."""
import numpy as np
import pytest

from hard_layer_model import HARD, batches, hard_graph, minmax_table
from helpers import layer
from ncnnlike.graph import Graph
from ncnnlike.quant import downstream
from ncnnlike.quant.calibrate import measured_blobs
from ncnnlike.quant.compare import reference_outputs
from ncnnlike.quant.convert import quantize_graph, quantized_layers
from ncnnlike.quant.methods import compute_table
from ncnnlike.quant.mixed import format_mixed, held_apart, mixed_table_text
from ncnnlike.quant.sensitivity import Trials, best_mixed, quick_sensitivity, ranking, sensitivity
from ncnnlike.quant.stats import CalibrationStats
from ncnnlike.quant.tablefile import parse_table, read_table, write_table
from ncnnlike.runtime import Net


def fp_net(graph):
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    return net


def test_frontier_is_what_a_layer_and_its_dependents_read_from_elsewhere():
    graph = hard_graph()
    assert downstream.dependents(graph, "conv_c") == ["conv_c", "conv_d", "gap", "fc"]
    assert downstream.frontier(graph, "conv_c") == ["b"]
    skip = Graph(graph.layers[:3] + [layer("Split", "split", ["b"], ["b0", "b1"])] +
                 [graph.layers[3]] + [layer("BinaryOp", "add", ["c", "b1"], ["s"])])
    skip.layers[4].bottoms = ["b0"]
    assert downstream.frontier(skip, "conv_c") == ["b0", "b1"]


def test_running_from_the_cache_gives_the_whole_models_outputs():
    graph = hard_graph()
    samples = batches(8, 4)
    union = downstream.frontier(graph, "conv_c")
    cache = downstream.ActivationCache(fp_net(graph), samples, union, graph.output_names())
    out = downstream.run_from(fp_net(graph), cache, union, 1)["out0"]
    assert np.allclose(out, cache.reference[1]["out0"], rtol=1e-3, atol=1e-3)   # float16 cache


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    graph, samples = hard_graph(), batches()
    table = read_table(minmax_table(graph, samples, tmp_path_factory.mktemp("hard") / "model.table"))
    reference = reference_outputs(fp_net(graph), samples)
    return Trials(graph, table, samples, reference, int8="sim", metric="cosine")


def test_quick_sensitivity_ranks_like_whole_model_trials_from_one_cached_pass(hard):
    """In ncnn's arithmetic ("sim") the cached runs equal whole-model runs up to the float16 cache
    (the fast kernels round a requantized top differently from an unfused one: close, not equal)."""
    quick, count = quick_sensitivity(hard, hard.batches, samples=32)
    whole = sensitivity(hard, ("float_one", "quantize_one"))
    assert count == 32
    for mode in ("float_one", "quantize_one"):
        assert ranking(quick, mode)[0] == ranking(whole, mode)[0] == HARD
        for name in quick:
            assert getattr(quick[name], mode).cosine == pytest.approx(getattr(whole[name], mode).cosine, abs=2e-3)


def sequence_graph(seed=0):
    """Input (6 steps, 8 features) -> InnerProduct per step (relu) -> LSTM (4) -> InnerProduct (5
    classes per step): a (T, C) sequence output with a weight-only LSTM among the conv-type layers."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        return rng.normal(0, np.sqrt(2 / np.prod(shape[1:])), shape).astype(np.float32)
    return Graph([layer("Input", "in", [], ["in0"], {0: 8, 1: 6}),
                  layer("InnerProduct", "fc1", ["in0"], ["a"], {0: 8, 1: 1, 2: 64, 9: 1},
                        {"weight_data": he(8, 8).reshape(-1), "bias_data": np.zeros(8, np.float32)}),
                  layer("LSTM", "lstm", ["a"], ["h"], {0: 4, 1: 128},
                        {"weight_xc_data": he(16, 8).reshape(-1), "bias_c_data": np.zeros(16, np.float32),
                         "weight_hc_data": he(16, 4).reshape(-1)}),
                  layer("InnerProduct", "fc2", ["h"], ["out0"], {0: 5, 1: 1, 2: 20},
                        {"weight_data": he(5, 4).reshape(-1), "bias_data": np.zeros(5, np.float32)})])


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    graph = sequence_graph()
    rng = np.random.default_rng(1)
    samples = [{"in0": rng.normal(size=(8, 6, 8)).astype(np.float32)} for _ in range(4)]
    blobs = measured_blobs(graph)
    stats = CalibrationStats(blobs.keys())
    for batch in samples:
        out = fp_net(graph).run(batch, list(blobs.values()))
        for name, blob in blobs.items():
            stats.update_absmax(name, out[blob])
    path = tmp_path_factory.mktemp("seq") / "seq.table"
    write_table(str(path), *compute_table(graph, stats, "minmax"))
    table = read_table(str(path))
    return graph, table, samples, str(path)


def test_every_quantized_layer_type_is_a_candidate_and_a_float_lstm_drops_its_param_lines(sequence):
    graph, table, samples, path = sequence
    trials = Trials(graph, table, samples, reference_outputs(fp_net(graph), samples))
    assert trials.candidates == ["fc1", "lstm", "fc2"]
    assert quantized_layers(trials.convert({"lstm"})) == ["fc1", "fc2"]
    found, _ = quick_sensitivity(trials, samples)
    assert set(found) == {"fc1", "lstm", "fc2"} and found["lstm"].quantize_one is not None
    result, order = best_mixed(trials, found, ("float_one",), 1.0)      # every decoded sequence as fp32's
    result.float_layers = ["lstm"]
    with open(path) as f:
        text = mixed_table_text(f.read(), table, result, found, order, 32)
    commented = [line for line in text.splitlines()[1:] if line.startswith("#")]
    assert [line.split()[0] for line in commented] == ["#lstm_param_0", "#lstm_param_1"]
    assert quantized_layers(quantize_graph(graph, parse_table(text, "mixed.table"))[0]) == ["fc1", "fc2"]


def test_the_agreement_metric_of_a_sequence_output_is_per_step_argmax_agreement(sequence):
    graph, table, samples, _ = sequence
    trials = Trials(graph, table, samples, reference_outputs(fp_net(graph), samples))
    trial = trials.all_int8()
    out = trial.outputs["out0"]
    assert out.kind == "sequence" and trial.score == trial.fine == out.step_agreement
    assert trial.agreement == out.agreement < trial.score       # decoded sequences: coarser, reported
    assert "(decoded %.2f%%)" % (100 * out.agreement) in trial.figures()
    assert trials.measure(trials.candidates).score == 1.0               # all float: every sequence equal


def test_held_apart_figures_are_measured_on_other_samples_and_reported(hard):
    found = sensitivity(hard, ("float_one",))
    result, order = best_mixed(hard, found, ("float_one",), 0.99)
    other = batches(16, 8, seed=5)
    held = Trials(hard.graph, hard.table, other, reference_outputs(fp_net(hard.graph), other), int8="sim",
                  metric="cosine")
    held_apart(result, held)
    assert result.held_after.samples == 16 and result.held_after.float_layers == frozenset([HARD])
    assert result.held_before.score < 0.9 < result.held_after.score
    assert "held-apart samples (16, not searched on)" in format_mixed(result, 5)
    with open(hard.table.path) as f:
        text = mixed_table_text(f.read(), hard.table, result, found, order, 32)
    assert "on 16 held-apart samples" in text.splitlines()[0]


def measured(float_layers, ref, test):
    """A Trial of real figures: the network output `test` measured against the fp32 `ref`."""
    from collections import OrderedDict
    from ncnnlike.quant.compare import OutputStats
    from ncnnlike.quant.sensitivity import Trial
    stats = OutputStats()
    stats.update(np.asarray(ref, np.float32), np.asarray(test, np.float32))
    return Trial(frozenset(float_layers), OrderedDict(out0=stats))


def test_the_notes_of_a_mixed_table_state_the_measured_direction(hard):
    """Keeping conv_a float fixes a flipped top-1 but lowers the output cosine: its `#` note says
    'up' for the agreement and 'down' for the cosine (never 'lifts' a figure that dropped)."""
    from ncnnlike.quant.mixed import MixedResult
    from ncnnlike.quant.sensitivity import Sensitivity
    ref = [[3, 1, 0], [0, 3, 1], [1, 0, 3], [3, 0, 1]]
    baseline = measured((), ref, [[3, 1, 0], [0, 3, 1], [1, 0, 3], [1.2, 0, 1.3]])      # 3 of 4 top-1
    alone = measured({"conv_a"}, ref, [[3, 2, 1], [1, 3, 2], [2, 1, 3], [3, 1, 2]])     # 4 of 4, cosine lower
    assert alone.fine > baseline.fine and alone.cosine < baseline.cosine
    found = {"conv_a": Sensitivity("conv_a", baseline, float_one=alone)}
    result = MixedResult(0.99, ["conv_a"], baseline, alone, True)
    with open(hard.table.path) as f:
        text = mixed_table_text(f.read(), hard.table, result, found, ["conv_a"], 4)
    note = next(line for line in text.splitlines()[1:] if line.startswith("#conv_a "))
    assert "top-1 agreement 75.00% -> 100.00% (up)" in note
    assert "cosine %.6f -> %.6f (down)" % (baseline.cosine, alone.cosine) in note
    assert "lift" not in note and note.count("(up)") == 1
    same = {"conv_a": Sensitivity("conv_a", baseline, float_one=measured({"conv_a"}, ref, ref[:3] + [[1.2, 0, 1.3]]))}
    text = mixed_table_text(text, hard.table, result, same, ["conv_a"], 4)
    assert "top-1 agreement 75.00% -> 75.00% (unchanged)" in text


class CountedTrials:
    """Trials whose differing argmax decisions (of 1000) per float set come from a table: to pin the
    stop rule of target=auto, not the measurements (those are tested on real models above)."""

    def __init__(self, candidates, misses):
        self.candidates, self.misses, self.runs = candidates, misses, 0

    def measure(self, float_layers):
        from collections import OrderedDict
        from ncnnlike.quant.compare import OutputStats
        from ncnnlike.quant.sensitivity import Trial
        self.runs += 1
        key = "".join(sorted(float_layers))
        stats = OutputStats(samples=100, agree=100, kind="sequence", steps=1000,
                            step_agree=1000 - self.misses.get(key, self.misses[""]))
        return Trial(frozenset(float_layers), OrderedDict(out0=stats))

    def all_int8(self):
        return self.measure(())


NAMES = list("abcdefghijklmnopqrst")      # 20 candidates: target=auto keeps at most 2 float


def test_target_auto_keeps_every_layer_int8_when_the_held_apart_gain_is_noise():
    from ncnnlike.quant.mixed_auto import grow_mixed
    search = CountedTrials(NAMES, {"": 30, "a": 20, "ab": 10})
    held = CountedTrials(NAMES, {"": 36, "a": 32, "ab": 12})      # 4 fewer: under sqrt(36), noise
    result = grow_mixed(search, NAMES, held)
    assert result.float_layers == [] and result.held_after.misses == 36 and result.target is None
    assert "keep every layer int8" in format_mixed(result, 20)
    assert "they decided the stop" in format_mixed(result, 20)


def test_target_auto_grows_while_the_held_apart_gain_is_real_and_stops_at_its_limit():
    from ncnnlike.quant.mixed_auto import float_limit, grow_mixed
    assert float_limit(20) == 2 and float_limit(47) == 5 and float_limit(5) == 1
    search = CountedTrials(NAMES, {"": 30, "a": 20, "ab": 10, "abc": 0, "abcd": 0})
    held = CountedTrials(NAMES, {"": 36, "a": 20, "ab": 10, "abc": 0, "abcd": 0, "b": 30})
    result = grow_mixed(search, NAMES, held)
    assert result.float_layers == ["a", "b"] and result.held_after.misses == 10     # not c: the 10% limit
    assert grow_mixed(search, NAMES, held, limit=4).float_layers == ["a", "b", "c"]   # d requantized: no loss
    worse = CountedTrials(NAMES, {"": 30, "a": 35})                 # better held apart, worse where searched
    assert grow_mixed(worse, NAMES, held).float_layers == []


def test_target_auto_needs_held_apart_samples(hard):
    from ncnnlike.errors import NcnnlikeError
    from ncnnlike.quant.mixed_auto import grow_mixed
    with pytest.raises(NcnnlikeError, match="target=auto needs held-apart samples"):
        grow_mixed(hard, [HARD], None)


def test_target_auto_keeps_the_hard_layer_float_measured_on_held_apart_samples(hard):
    """On the real model: keeping conv_c float fixes every held-apart top-1 (a real gain); the table
    header names target=auto."""
    from ncnnlike.quant.mixed_auto import best_grown
    other = batches(16, 8, seed=5)
    held = Trials(hard.graph, hard.table, other, reference_outputs(fp_net(hard.graph), other), int8="sim")
    search = Trials(hard.graph, hard.table, hard.batches, hard.reference, int8="sim")
    found = sensitivity(search, ("float_one",))
    result, order = best_grown(search, found, ("float_one",), held)
    assert result.float_layers == [HARD] and result.held_before.misses > 4 > result.held_after.misses
    with open(hard.table.path) as f:
        header = mixed_table_text(f.read(), hard.table, result, found, order, 32).splitlines()[0]
    assert "1 of 5 layers kept float for target=auto" in header and "on 16 held-apart samples" in header
