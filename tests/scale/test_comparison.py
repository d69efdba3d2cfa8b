"""model-compare and the mixed-precision trials on 2 local Ray workers: the one-process report,
JSON and mixed table, byte for byte, also when a worker is killed during a trial."""
import json
import re

import numpy as np
import pytest

from ncnnlike.cli.model_compare import main as model_compare
from ncnnlike.io.model import save_model
from ncnnlike.quant.compare import Samples, compare_models, comparison_dict
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.images import parse_preprocess, read_lists
from ncnnlike.quant.mixed import best_mixed
from ncnnlike.quant.sensitivity import sensitivity
from ncnnlike.quant.trials import Trials
from ncnnlike.quant.tablefile import read_table
from ncnnlike.runtime import Net
from ncnnlike.scale.cluster import Cluster
from ncnnlike.scale.comparison import cluster_compare
from ncnnlike.scale.faults import Fault
from quant.hard_layer_model import SHAPE, batches, hard_graph, minmax_table

MODES = ("float_one", "quantize_one")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The hard-layer model (fp32, int8), its minmax table and a list of 32 npy samples."""
    d = tmp_path_factory.mktemp("scale-compare")
    graph, samples = hard_graph(), batches()
    table = read_table(minmax_table(graph, samples, d / "model.table"))
    int8_graph = quantize_graph(graph, table)[0]
    save_model(graph, str(d / "fp.param"), str(d / "fp.bin"))
    save_model(int8_graph, str(d / "int8.param"), str(d / "int8.bin"))
    names = []
    for i, sample in enumerate(np.concatenate([b["in0"] for b in samples])):
        names.append("s%02d.npy" % i)
        np.save(d / names[-1], sample)
    (d / "list.txt").write_text("\n".join(names) + "\n")
    return d, graph, int8_graph, table


def run_cli(d, capsys, name, *extra):
    args = [str(d / n) for n in ("fp.param", "fp.bin", "int8.param", "int8.bin", "list.txt")]
    args += ["shape=[%d,%d,%d]" % (SHAPE[2], SHAPE[1], SHAPE[0]), "type=1", "table=" + str(d / "model.table"),
             "target=0.99", "out=" + str(d / (name + ".table")), "--json", str(d / (name + ".json"))]
    assert model_compare(args + list(extra)) == 0
    report = [re.sub(r" in [0-9.]+ s,", ",", line) for line in capsys.readouterr().out.splitlines()
              if not line.startswith("time:")]        # timings are the one thing that differs
    data = json.loads((d / (name + ".json")).read_text())
    data["trials"].pop("seconds")
    return report, data, (d / (name + ".table")).read_bytes()


def test_model_compare_workers_2_gives_the_one_process_report_json_and_mixed_table(ray_local, files, capsys):
    d = files[0]
    one = run_cli(d, capsys, "one")
    two = run_cli(d, capsys, "two", "workers=2")
    assert two == one
    assert one[1]["mixed"]["float_layers"] == ["conv_c"]


def search(trials_type, comparison, graph, table, samples):
    trials = trials_type(graph, table, samples, comparison.reference, 1, "fast")
    if hasattr(trials, "prefetch_sensitivity"):
        trials.prefetch_sensitivity(MODES)
    found = sensitivity(trials, MODES)
    result, order = best_mixed(trials, found, MODES, 0.99)
    return [(n, found[n].float_one.outputs, found[n].quantize_one.outputs) for n in found], result.steps, order


def test_a_worker_killed_during_a_trial_changes_no_figure(ray_local, files, tmp_path):
    d, graph, int8_graph, table = files
    lists = read_lists([str(d / "list.txt")])
    preprocess = parse_preprocess({"shape": "[12,12,3]", "type": "1"}, ["in0"])
    samples = Samples(lists, preprocess, 8, 1)
    nets = [Net.from_graph(g) for g in (graph, int8_graph)]
    expected = compare_models(nets[0], nets[1], samples)
    marker = tmp_path / "killed"
    cluster = Cluster(2, shard=8, fault=Fault("trial", 0, str(marker)))
    with cluster_compare(cluster, graph, int8_graph, lists, preprocess, 8) as remote:
        comparison = remote.compare(progress=False)
        assert comparison_dict(comparison) == comparison_dict(expected)
        found = search(remote.trials, comparison, graph, table, samples)
    assert marker.exists()
    assert found == search(Trials, expected, graph, table, samples)
