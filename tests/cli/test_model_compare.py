"""model-compare CLI: the report, --json, --plot, automatic mixed precision, and one-line errors."""
import json
import os

import cv2
import numpy as np
import pytest

from ncnnlike.cli.model_compare import main
from ncnnlike.io.model import save_model
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.tablefile import read_table
from quant.hard_layer_model import HARD, LAYERS, SHAPE, batches, hard_graph, minmax_table


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """fp32 and int8 model files, their minmax table, and a list of 32 npy samples."""
    d = tmp_path_factory.mktemp("compare")
    graph, samples = hard_graph(), batches()
    table = minmax_table(graph, samples, d / "model.table")
    save_model(graph, str(d / "fp.param"), str(d / "fp.bin"))
    save_model(quantize_graph(graph, read_table(table))[0], str(d / "int8.param"), str(d / "int8.bin"))
    names = []
    for i, sample in enumerate(np.concatenate([b["in0"] for b in samples])):
        names.append("s%02d.npy" % i)
        np.save(d / names[-1], sample)
    (d / "list.txt").write_text("\n".join(names) + "\n")
    return d


def args(d, *extra):
    return [str(d / n) for n in ("fp.param", "fp.bin", "int8.param", "int8.bin", "list.txt")] + \
        ["shape=[%d,%d,%d]" % (SHAPE[2], SHAPE[1], SHAPE[0]), "type=1", "thread=1"] + list(extra)


def test_report_lists_quantized_layers_worst_first_then_outputs(files, capsys):
    assert main(args(files)) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in out[2:2 + len(LAYERS)]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, 6)] and rows[0][1] == HARD
    assert sorted(r[1] for r in rows) == sorted(LAYERS)
    assert any(line.startswith("out0") and "top-1 agreement" in line for line in out)


def test_json_holds_the_same_figures_as_the_report(files, capsys, tmp_path):
    assert main(args(files, "--json", str(tmp_path / "r.json"))) == 0
    printed = capsys.readouterr().out.splitlines()
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["samples"] == 32 and [e["layer"] for e in data["layers"]][0] == HARD
    first = printed[2].split()
    assert float(first[3]) == pytest.approx(data["layers"][0]["cosine"], abs=1e-6)
    assert 0 <= data["outputs"]["out0"]["top1_agreement"] <= 1


def test_auto_mixed_precision_writes_a_table_that_keeps_only_the_hard_layer_float(files, capsys, tmp_path):
    out_table = tmp_path / "mixed.table"
    assert main(args(files, "table=" + str(files / "model.table"), "target=0.99", "out=" + str(out_table),
                     "--json", str(tmp_path / "r.json"))) == 0
    printed = capsys.readouterr().out
    assert "layers kept float: 1 of 5 (conv_c)" in printed
    table = read_table(str(out_table))
    assert set(table.blobs) == set(LAYERS) - {HARD} and len(table.weights) == len(LAYERS)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["mixed"]["float_layers"] == [HARD] and data["mixed"]["after"]["output_cosine"] >= 0.99
    assert data["sensitivity"][0]["layer"] == HARD and data["sensitivity"][0]["rank"] == 1


def test_the_search_reports_its_held_apart_samples_and_writes_them_in_the_table(files, capsys, tmp_path):
    out_table = tmp_path / "mixed.table"
    assert main(args(files, "table=" + str(files / "model.table"), "target=0.99", "out=" + str(out_table),
                     "--json", str(tmp_path / "r.json"))) == 0
    printed = capsys.readouterr().out
    assert "target agreement 0.99 on 24 search samples met" in printed
    held = next(line for line in printed.splitlines() if line.startswith("held-apart samples (8, not searched on)"))
    assert "all int8 agreement 0.00%" in held and "mixed agreement 100.00%" in held
    assert "on 8 held-apart samples" in out_table.read_text().splitlines()[0]
    data = json.loads((tmp_path / "r.json").read_text())["mixed"]
    assert data["held_apart"]["after"]["samples"] == 8 and data["held_apart"]["after"]["agreement"] == 1.0
    assert main(args(files, "table=" + str(files / "model.table"), "target=0.99", "holdout=0")) == 0
    printed = capsys.readouterr().out
    assert "on 32 search samples met" in printed and "held-apart" not in printed


def test_out_without_a_target_searches_with_target_auto(files, capsys, tmp_path):
    """target=auto (the default with out=): conv_c float is a real gain on the 8 held-apart samples."""
    out_table = tmp_path / "mixed.table"
    assert main(args(files, "table=" + str(files / "model.table"), "out=" + str(out_table),
                     "--json", str(tmp_path / "r.json"))) == 0
    printed = capsys.readouterr().out
    assert "target=auto on 24 search samples" in printed and "layers kept float: 1 of 5 (conv_c)" in printed
    assert "held-apart samples (8, not searched on; they decided the stop)" in printed
    assert "for target=auto" in out_table.read_text().splitlines()[0]
    assert set(read_table(str(out_table)).blobs) == set(LAYERS) - {HARD}
    data = json.loads((tmp_path / "r.json").read_text())["mixed"]
    assert data["target"] == "auto" and data["held_apart"]["after"]["agreement"] == 1.0


def test_metric_cosine_searches_for_an_output_cosine(files, capsys):
    assert main(args(files, "table=" + str(files / "model.table"), "target=0.999", "metric=cosine")) == 0
    printed = capsys.readouterr().out
    assert "target cosine 0.999" in printed and "layers kept float: 1 of 5 (conv_c)" in printed


def test_rank_both_reports_both_sensitivities(files, capsys):
    assert main(args(files, "table=" + str(files / "model.table"), "rank=both")) == 0
    lines = capsys.readouterr().out.splitlines()
    row = lines[lines.index(next(l for l in lines if l.startswith("sensitivity"))) + 2].split()
    assert row[1] == HARD and float(row[3]) > 0.99 > float(row[5])      # float alone: cosine up; int8 alone: down
    assert row[2] == "100.00%" and row[4] == "0.00%"                     # top-1 agreement of each


def test_ranking_can_run_on_fewer_images_than_the_search(files, capsys):
    assert main(args(files, "table=" + str(files / "model.table"), "rank_images=8", "target=0.99")) == 0
    printed = capsys.readouterr().out
    assert "sensitivity on 8 samples" in printed and "layers kept float: 1 of 5 (conv_c)" in printed


def test_fast_and_exact_search_give_the_same_exactly_measured_answer(files, capsys, tmp_path):
    mixed = {}
    for search in ("fast", "exact"):
        report = tmp_path / (search + ".json")
        assert main(args(files, "table=" + str(files / "model.table"), "target=0.99", "search=" + search,
                         "--json", str(report))) == 0
        assert "layers kept float: 1 of 5 (conv_c)" in capsys.readouterr().out
        mixed[search] = json.loads(report.read_text())["mixed"]
    for key in ("before", "after", "float_layers"):
        assert mixed["fast"][key] == mixed["exact"][key]


def test_plot_is_a_readable_png_with_one_row_per_quantized_layer(files, tmp_path):
    assert main(args(files, "--plot", str(tmp_path / "snr.png"))) == 0
    image = cv2.imread(str(tmp_path / "snr.png"))
    assert image.shape == (100 + 20 * len(LAYERS) + 70, 1200, 3)


@pytest.mark.parametrize("extra, message", [
    (["target=0.99"], "target= needs table= as well"),
    (["table=T", "target=1.5"], "target=1.5: expected auto or a value in (0, 1]"),
    (["table=T", "target=0.9", "metric=top5"], "metric=top5: expected agreement or cosine"),
    (["table=T", "target=0.9", "holdout=1"], "holdout=1: expected 0 (none) or K >= 2"),
    (["table=T", "target=0.9", "holdout=4", "validate=list.txt"], "holdout= and validate= exclude each other"),
    (["table=T", "target=auto", "holdout=0"], "target=auto needs held-apart samples"),
    (["table=T", "target=auto", "metric=cosine"], "target=auto judges argmax agreement"),
    (["table=T", "target=best"], "target=best: expected auto or a value in (0, 1]"),
    (["table=T", "rank=worst"], "rank=worst: expected one of"),
    (["table=T", "search=quick"], "search=quick: expected fast or exact"),
    (["bogus=1"], "unknown option 'bogus='"),
    (["--json"], "--json needs a file name"),
    (["--svg", "x.svg"], "unknown flag '--svg'"),
    (["batch=0"], "batch=0: expected a positive integer"),
    (["--plot", "/no/such/folder/p.png"], "folder /no/such/folder does not exist"),
])
def test_bad_arguments_are_one_line_exit_2_and_no_output(files, capsys, tmp_path, extra, message):
    argv = args(files, *[e.replace("table=T", "table=" + str(files / "model.table")) for e in extra])
    if any(e.startswith("target=") for e in extra):
        argv.append("out=" + str(tmp_path / "m.table"))
    if "--json" not in extra:
        argv += ["--json", str(tmp_path / "r.json")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err and captured.err.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_missing_or_mismatched_files_are_one_line_errors(files, capsys, tmp_path):
    bad = args(files)
    bad[4] = str(tmp_path / "none.txt")
    assert main(bad) == 2
    assert "none.txt" in capsys.readouterr().err
    assert main(args(files)[:4] + ["shape=[12,12,3]"]) == 2
    assert "expected 5 file arguments" in capsys.readouterr().err
    swapped = args(files)
    swapped[2:4] = [str(files / "fp.param"), str(files / "fp.bin")]
    assert main(swapped + ["--plot", str(tmp_path / "p.png")]) == 2
    assert "no quantized layer to plot" in capsys.readouterr().err and os.listdir(tmp_path) == []
