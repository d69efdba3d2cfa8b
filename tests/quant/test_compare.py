"""model-compare measurements: error metrics, per-layer errors fp32 vs int8, output agreement, the plot."""
import math

import numpy as np
import pytest

from hard_layer_model import HARD, LAYERS, batches, hard_graph, minmax_table
from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import (ErrorStats, OutputStats, Samples, compare_models, comparison_dict, ctc_decode,
                                    format_comparison, output_agreement, output_kind, probes, reference_outputs,
                                    subset)
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.images import Preprocess, TYPE_NPY, read_lists
from ncnnlike.quant.plot import snr_chart
from ncnnlike.quant.tablefile import read_table
from ncnnlike.runtime import Net


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(fp32 graph, int8 graph from its minmax table, samples)."""
    graph, samples = hard_graph(), batches()
    table = read_table(minmax_table(graph, samples, tmp_path_factory.mktemp("t") / "hard.table"))
    return graph, quantize_graph(graph, table)[0], samples


def nets(fp_graph, int8_graph):
    return Net.from_graph(fp_graph), Net.from_graph(int8_graph)


def test_error_stats_give_cosine_snr_and_max_abs_error_of_known_vectors():
    s = ErrorStats()
    s.update(np.array([3.0, 4.0]), np.array([3.0, 5.0]))
    assert s.cosine == pytest.approx(29 / math.sqrt(25 * 34))
    assert s.snr_db == pytest.approx(10 * math.log10(25))
    assert s.max_abs == 1.0


def test_error_stats_do_not_depend_on_how_samples_are_batched():
    rng = np.random.default_rng(0)
    ref, test = rng.normal(size=(10, 50)), rng.normal(size=(10, 50))
    whole, parts = ErrorStats(), ErrorStats()
    whole.update(ref, test)
    for i in range(0, 10, 3):
        parts.update(ref[i:i + 3], test[i:i + 3])
    assert (parts.cosine, parts.snr_db, parts.max_abs) == pytest.approx((whole.cosine, whole.snr_db, whole.max_abs))


def test_exact_match_has_infinite_snr_and_cosine_one():
    s = ErrorStats()
    s.update(np.ones(4), np.ones(4))
    assert (s.cosine, s.snr_db, s.max_abs) == (1.0, math.inf, 0.0)


def test_output_stats_count_top1_agreement_and_worst_sample_cosine():
    ref = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 1.0], [1.0, 1.0, 0.0]])
    test = np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 2.0], [1.0, 0.0, 1.0]])
    s = OutputStats()
    s.update(ref, test)
    assert s.top1_agreement == pytest.approx(2 / 3)   # sample 1: argmax 1 vs 2
    assert s.cos_min == pytest.approx(0.5)            # sample 2: [1,1,0].[1,0,1] / 2
    assert s.cosine == pytest.approx((1.0 + 0.8 + 0.5) / 3)


def ctc_scores(steps, classes=5):
    """(1, T, classes) one-hot scores of a step sequence."""
    return np.eye(classes)[steps][None]


def test_sequence_outputs_are_compared_per_step_and_as_decoded_ctc_strings():
    """A (T, C) output: one changed step that decodes to the same string (a repeat), one that adds a
    character, one identical sample; the decoded strings agree 2 of 3, the steps 22 of 24."""
    s = OutputStats()
    s.update(ctc_scores([1, 1, 0, 2, 0, 0, 3, 0]), ctc_scores([1, 0, 0, 2, 0, 0, 3, 0]))   # 1 1 -> 1 0: same "123"
    s.update(ctc_scores([1, 0, 2, 0, 0, 0, 3, 0]), ctc_scores([1, 0, 2, 0, 4, 0, 3, 0]))   # adds a 4
    s.update(ctc_scores([0, 0, 2, 2, 0, 0, 0, 0]), ctc_scores([0, 0, 2, 2, 0, 0, 0, 0]))
    assert s.kind == "sequence"
    assert s.step_agreement == pytest.approx(22 / 24) and s.agreement == pytest.approx(2 / 3)
    assert "per-step argmax agreement 91.67%" in s.proxy_text()
    assert "decoded-sequence agreement (CTC, blank 0) 66.67%" in s.proxy_text()
    assert s.as_dict()["kind"] == "sequence" and "top1_agreement" not in s.as_dict()


def test_output_kind_ignores_size_one_axes_and_ctc_decode_merges_repeats_then_drops_blanks():
    assert [output_kind(s) for s in [(1000,), (1000, 1, 1), (40, 6625), (1, 40, 6625), (3, 8, 8)]] == \
        ["vector", "vector", "sequence", "sequence", "map"]
    assert ctc_decode([0, 3, 3, 0, 3, 5, 5, 0]) == (3, 3, 5)


def test_the_huge_range_layer_has_the_worst_error(models):
    fp, q, samples = models
    comparison = compare_models(*nets(fp, q), samples)
    assert list(comparison.layers) == LAYERS
    assert comparison.worst_first()[0] == HARD
    assert comparison.layers[HARD].snr_db < 3.0
    assert comparison.layers["conv_a"].snr_db > 25.0
    assert comparison.samples == 32


def test_requantized_tops_are_compared_after_dividing_by_the_top_scale(models):
    fp, q, samples = models
    found = probes(fp, q)
    assert q.layer("conv_a").params[8] == 102
    assert found["conv_a"].top_scale == pytest.approx(q.layer("conv_b").weight("bottom_blob_int8_scales")[0])
    assert found["fc"].top_scale is None
    comparison = compare_models(*nets(fp, q), samples)
    # the extracted conv_a top is integer-valued (ncnn's value cast); divided by its scale it matches fp32
    raw = Net.from_graph(q).run(samples[0], ["a"])["a"]
    assert np.array_equal(raw, np.round(raw)) and np.abs(raw).max() > 30
    assert comparison.layers["conv_a"].cosine > 0.999


def test_network_output_agreement_is_reported_and_kept_for_later_passes(models):
    fp, q, samples = models
    comparison = compare_models(*nets(fp, q), samples)
    out = comparison.outputs["out0"]
    assert out.samples == 32 and out.cosine < 0.9
    net = Net.from_graph(q)
    net.opt.use_int8_inference = "sim"        # the mode compare_models measures int8 in
    again = output_agreement(net, samples, comparison.reference)
    assert again["out0"].cosine == pytest.approx(out.cosine, abs=1e-12)
    assert again["out0"].agree == out.agree


def test_a_float_model_compared_with_itself_has_no_layers_and_perfect_outputs(models):
    fp, _, samples = models
    comparison = compare_models(*nets(fp, fp), samples)
    assert not comparison.layers
    assert comparison.outputs["out0"].cosine == pytest.approx(1.0) and comparison.outputs["out0"].agree == 32
    assert "no quantized layer" in format_comparison(comparison)


def test_models_that_do_not_match_are_an_error(models):
    fp, q, samples = models
    other = q.copy()
    other.layer("conv_b").name = "renamed"
    with pytest.raises(NcnnlikeError, match="renamed .*no matching layer"):
        compare_models(*nets(fp, other), samples)


def test_json_form_lists_layers_worst_first_with_the_requantize_note(models):
    fp, q, samples = models
    data = comparison_dict(compare_models(*nets(fp, q), samples))
    assert data["layers"][0]["layer"] == HARD and "top_blob_int8_scale" in data["note"]
    assert [e["snr_db"] for e in data["layers"]] == sorted(e["snr_db"] for e in data["layers"])
    same = comparison_dict(compare_models(*nets(fp, fp), samples))
    assert same["outputs"]["out0"]["snr_db"] == "inf"     # strict JSON has no Infinity
    assert set(data["outputs"]["out0"]) >= {"cosine_mean", "top1_agreement", "snr_db"}


def test_samples_are_decoded_once_when_they_fit_and_replayed_identically(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(5):
        np.save(tmp_path / ("%d.npy" % i), rng.normal(size=(3, 4, 4)).astype(np.float32))
        lines.append("%d.npy" % i)
    (tmp_path / "list.txt").write_text("\n".join(lines) + "\n")
    lists = read_lists([str(tmp_path / "list.txt")])
    prep = [Preprocess("in0", [4, 4, 3], type=TYPE_NPY)]
    cached, streamed = Samples(lists, prep, batch_size=2), Samples(lists, prep, batch_size=2, cache_bytes=100)
    first = [b["in0"] for b in cached]
    list(streamed)
    assert cached._cache is not None and streamed._cache is None
    for again in (cached, streamed):
        assert all(np.array_equal(a, b["in0"]) for a, b in zip(first, again))
    assert [len(b) for b in first] == [2, 2, 1]


def test_subset_takes_whole_leading_batches_and_their_cached_outputs(models):
    fp, _, samples = models                         # 4 batches of 8
    reference = reference_outputs(Net.from_graph(fp), samples)
    first, cut = subset(samples, reference, 10)
    assert [len(b["in0"]) for b in first] == [8, 8] and len(list(first)) == 2   # re-iterable
    assert len(cut) == 2 and np.array_equal(cut[1]["out0"], reference[1]["out0"])


def test_snr_chart_draws_one_row_per_layer_with_the_bad_layer_in_red():
    image = snr_chart(["conv_a (Convolution)", "conv_c (Convolution)", "fc (InnerProduct)"],
                      [30.0, 1.5, math.inf], "title", "subtitle")
    assert image.shape[1] == 1200 and image.shape[0] == 100 + 3 * 20 + 70
    row = image[100 + 20 + 10]                          # middle of the second row: the 1.5 dB bar
    red = (row[:, 2] > 180) & (row[:, 0] < 100) & (row[:, 1] < 100)
    assert red.sum() > 10
