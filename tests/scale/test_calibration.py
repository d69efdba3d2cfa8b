"""Calibration on 2 local Ray workers: the same statistics and table bytes as one process, also
when a worker is killed in the middle of a shard."""
import os

import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.cli.model2table import main as model2table
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import load_model
from ncnnlike.quant import methods
from ncnnlike.quant.calibrate import collect_stats, measured_blobs
from ncnnlike.quant.images import parse_preprocess, read_lists
from ncnnlike.quant.methods.eq import equalize_table
from ncnnlike.quant.samples import BlobSamples
from ncnnlike.quant.tablefile import write_table
from ncnnlike.runtime import Net
from ncnnlike.scale.calibration import cluster_stats
from ncnnlike.scale.cluster import Cluster
from ncnnlike.scale.faults import Fault

TINY, LITE0 = os.path.join(REFERENCE, "tiny"), os.path.join(REFERENCE, "lite0")
TINY_OPTS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "BGR"}
LITE0_OPTS = {"mean": "[127,127,127]", "norm": "[0.0078125,0.0078125,0.0078125]", "shape": "[224,224,3]",
              "pixel": "RGB"}
METHODS = ["kl", "aciq", "minmax", "percentile", "mse"]
LITE0_IMAGES = 16      # the first lines of calib100-png.txt: 4 batches of 4, 2 shards of 8


def setup(folder, model, listfile, opts, count=None):
    graph = load_model(os.path.join(folder, model + ".param"), os.path.join(folder, model + ".bin"))
    lists = [entries[:count] for entries in read_lists([os.path.join(folder, listfile)])]
    return graph, lists, parse_preprocess(opts, graph.input_names())


def one_process(graph, lists, preprocess, samples=None):
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 2, False
    return net, collect_stats(net, lists, preprocess, batch_size=4, threads=2, progress=False, samples=samples)


def blob_samples(graph):
    return BlobSamples(measured_blobs(graph).values())


def table_bytes(graph, stats, method, path):
    write_table(str(path), *methods.compute_table(graph, stats, method))
    return path.read_bytes()


@pytest.fixture(scope="module")
def tiny():
    graph, lists, preprocess = setup(TINY, "tiny-opt", "calib20-png.txt", TINY_OPTS)
    samples = blob_samples(graph)
    return graph, lists, preprocess, one_process(graph, lists, preprocess, samples), samples


def test_tiny_tables_equal_one_process_for_every_method_though_a_worker_is_killed(ray_local, tiny, tmp_path):
    graph, lists, preprocess, (net, expected), expected_samples = tiny
    marker, samples = tmp_path / "killed", blob_samples(graph)
    cluster = Cluster(2, shard=4, fault=Fault("histograms", 2, str(marker)))
    stats = cluster_stats(cluster, graph, lists, preprocess, batch_size=4, progress=False, samples=samples)
    assert marker.exists() and cluster.replacements == 1     # a worker died after binning shard 2
    assert stats == expected
    for method in METHODS:
        assert table_bytes(graph, stats, method, tmp_path / "a") == table_bytes(graph, expected, method, tmp_path / "b")
    # method=auto (and correct=) read the first samples of each measured blob: the same arrays
    assert list(samples.arrays) == list(expected_samples.arrays)
    assert all(np.array_equal(samples[b], expected_samples[b]) for b in expected_samples.arrays)
    # eq refines the KL table on the driver (first 50 images) from these statistics: the same table
    tables = [equalize_table(net, lists, preprocess, s, 2, False) for s in (stats, expected)]
    for name, table in zip("cd", tables):
        write_table(str(tmp_path / name), *table)
    assert (tmp_path / "c").read_bytes() == (tmp_path / "d").read_bytes()


def test_lite0_tables_from_two_workers_equal_one_process_for_every_method(ray_local, tmp_path):
    graph, lists, preprocess = setup(LITE0, "lite0-opt", "calib100-png.txt", LITE0_OPTS, LITE0_IMAGES)
    _, expected = one_process(graph, lists, preprocess)
    stats = cluster_stats(Cluster(2, shard=8), graph, lists, preprocess, batch_size=4, progress=False)
    assert stats == expected
    for method in METHODS:
        assert table_bytes(graph, stats, method, tmp_path / "a") == table_bytes(graph, expected, method, tmp_path / "b")


def test_model2table_workers_2_writes_the_one_process_table(ray_local, tmp_path):
    """The CLI path with phase 1 only (aciq): workers=2 reuses the running Ray."""
    args = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"),
            os.path.join(TINY, "calib20-png.txt")]
    opts = ["%s=%s" % kv for kv in TINY_OPTS.items()] + ["method=aciq"]
    assert model2table(args + [str(tmp_path / "one.table")] + opts) == 0
    assert model2table(args + [str(tmp_path / "two.table")] + opts + ["workers=2"]) == 0
    assert (tmp_path / "one.table").read_bytes() == (tmp_path / "two.table").read_bytes()


def test_a_bad_image_on_a_worker_is_the_one_line_error_of_one_process(ray_local, tiny, tmp_path):
    graph, lists, preprocess, _, _ = tiny
    listfile = tmp_path / "list.txt"
    lines = [e.path for e in lists[0][:6]] + [str(tmp_path / "missing.png")] + [e.path for e in lists[0][6:8]]
    listfile.write_text("\n".join(lines) + "\n")
    bad = read_lists([str(listfile)])
    with pytest.raises(NcnnlikeError) as here:
        one_process(graph, bad, preprocess)
    with pytest.raises(NcnnlikeError) as there:
        cluster_stats(Cluster(2, shard=4), graph, bad, preprocess, batch_size=4, progress=False)
    assert str(there.value) == str(here.value) and "list.txt line 7" in str(there.value)
