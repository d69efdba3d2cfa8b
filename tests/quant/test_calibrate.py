"""Calibration streaming: shards that merge into one pass byte for byte, saved statistics, bounded memory."""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from helpers import BIN_EDGE_ABSMAX, REFERENCE, bin_edge_values, ncnn_bins
from ncnnlike.cli.model2table import main as model2table
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import load_model
from ncnnlike.quant import calibrate, input_cache, methods
from ncnnlike.quant.calibrate import (_InputCache, collect_absmax, collect_histograms, collect_stats, measured_blobs,
                                      merge_stats, split_lists)
from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
from ncnnlike.quant.stats import CalibrationStats, Histogram, load_stats
from ncnnlike.quant.tablefile import write_table
from ncnnlike.runtime import Net

TINY = os.path.join(REFERENCE, "tiny")
PARAM, BIN = os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin")
LIST = os.path.join(TINY, "calib20-png.txt")
OPTS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "BGR"}


def tiny_net():
    net = Net.from_graph(load_model(PARAM, BIN))
    net.opt.num_threads = 2
    net.opt.use_int8_inference = False
    return net


def table_bytes(net, stats, path):
    """The kl table model2table writes for these statistics."""
    write_table(str(path), *methods.compute_table(net.graph, stats, "kl"))
    return path.read_bytes()


@pytest.fixture(scope="module")
def tiny():
    net = tiny_net()
    return net, read_lists([LIST]), parse_preprocess(OPTS, net.graph.input_names())


@pytest.fixture(scope="module")
def one_pass(tiny):
    net, lists, preprocess = tiny
    return collect_stats(net, lists, preprocess, batch_size=4, threads=2, progress=False)


def test_two_merged_shards_give_the_table_of_one_pass_byte_for_byte(tiny, one_pass, tmp_path):
    net, lists, preprocess = tiny
    shards = split_lists(lists, 2)
    assert [len(s[0]) for s in shards] == [10, 10]
    phase1 = [collect_absmax(net, shard, preprocess, batch_size=3, progress=False) for shard in shards]
    absmax = merge_stats(phase1)
    assert absmax.keys() == one_pass.keys()
    assert all(absmax[n].absmax == one_pass[n].absmax for n in absmax)
    phase2 = [collect_histograms(net, shard, preprocess, absmax, batch_size=3, threads=2, progress=False)
              for shard in shards]
    merged = merge_stats(phase2)
    assert merged == one_pass
    # the shards' histograms really differ: each holds half of the values
    first = phase2[0][next(iter(merged))].histogram
    assert 0 < first.total() < merged[next(iter(merged))].histogram.total()
    cli_table = tmp_path / "cli.table"
    assert model2table([PARAM, BIN, LIST, str(cli_table)] + ["%s=%s" % kv for kv in OPTS.items()]
                       + ["method=kl", "thread=2"]) == 0
    assert table_bytes(net, merged, tmp_path / "merged.table") == cli_table.read_bytes()


def test_merging_does_not_modify_the_parts(tiny):
    net, lists, preprocess = tiny
    parts = [collect_absmax(net, shard, preprocess, progress=False) for shard in split_lists(lists, 2)]
    samples = [next(iter(p.values())).absmax.samples for p in parts]
    merged = merge_stats(parts)
    assert [next(iter(p.values())).absmax.samples for p in parts] == samples
    assert next(iter(merged.values())).absmax.samples == 20


def test_saved_and_loaded_statistics_give_the_same_table(one_pass, tiny, tmp_path):
    net = tiny[0]
    one_pass.save(str(tmp_path / "stats.npz"))
    loaded = load_stats(str(tmp_path / "stats.npz"))
    assert loaded == one_pass
    assert table_bytes(net, loaded, tmp_path / "a.table") == table_bytes(net, one_pass, tmp_path / "b.table")


def test_histogram_shards_of_different_phase_1_do_not_merge(tiny):
    net, lists, preprocess = tiny
    shards = split_lists(lists, 2)
    own = [collect_absmax(net, shard, preprocess, progress=False) for shard in shards]
    parts = [collect_histograms(net, shard, preprocess, a, progress=False) for shard, a in zip(shards, own)]
    if all(own[0][n].absmax == own[1][n].absmax for n in own[0]):
        pytest.skip("both shards happen to have the same phase 1")
    with pytest.raises(NcnnlikeError, match="merged phase 1"):
        merge_stats(parts)


def test_phase_2_result_does_not_depend_on_batch_size_or_threads(tiny, one_pass):
    net, lists, preprocess = tiny
    for batch, threads in ((1, 1), (7, 2), (20, 3)):
        stats = collect_histograms(net, lists, preprocess, one_pass, batch_size=batch, threads=threads,
                                   progress=False)
        assert stats == one_pass, (batch, threads)


def test_split_lists_makes_consecutive_shards_of_every_list(tiny):
    lists = tiny[1]
    shards = split_lists([lists[0], lists[0]], 3)
    assert [len(s[0]) for s in shards] == [6, 7, 7]
    assert [e for s in shards for e in s[1]] == lists[0]
    with pytest.raises(NcnnlikeError, match="cannot split 20 samples into 21 shards"):
        split_lists(lists, 21)


def test_input_cache_keeps_batches_within_its_budget_and_replays_all_samples(tiny):
    net, lists, preprocess = tiny
    one = 3 * 32 * 32                                       # bytes of one sample kept as its pixels
    cache = _InputCache(lists, preprocess, 4, 2, budget=9 * one)    # room for two batches of 4
    first = [b["in0"] for b in cache.first_pass()]
    assert sum(len(b) for b in first) == 20 and len(cache.kept) == 2
    second = [b["in0"] for b in cache.second_pass()]
    assert np.array_equal(np.concatenate(second), np.concatenate(first))


def test_runs_are_cut_to_segment_bytes_only_when_the_graph_runs_in_segments(tiny, monkeypatch):
    """One segment (run_bytes None): runs of up to OUTPUT_BYTES of blobs, as without segments."""
    net, lists, preprocess = tiny
    batches = list(iter_batches(lists, preprocess, 4, 1))
    shapes = calibrate._RunShapes(net)
    sample = calibrate._sample_bytes(shapes.get(batches[0]))
    monkeypatch.setattr(calibrate, "OUTPUT_BYTES", 4 * sample)
    monkeypatch.setattr(calibrate, "SEGMENT_BYTES", 2 * sample)
    for run_bytes, size in ((None, 4), (sample, 2)):
        runs, _, _ = calibrate._plan(shapes, iter(batches), 4, 2, lambda inputs: run_bytes)
        assert {len(run["in0"]) for run in runs} == {size}


def test_input_cache_holds_its_batches_in_a_temporary_file_it_closes_after_phase_2(tiny):
    net, lists, preprocess = tiny
    cache = _InputCache(lists, preprocess, 4, 2, budget=1 << 20)
    first = np.concatenate([b["in0"] for b in cache.first_pass()])
    assert len(cache.kept) == 5 and cache.file.seek(0, 2) == 20 * 3 * 32 * 32
    held = [x for record in cache.kept for stored in record.values() for x in stored if isinstance(x, np.ndarray)]
    assert all(x.size <= 3 * 256 for x in held)              # the pixel tables only, not the pixels
    replay = cache.second_pass()
    assert np.array_equal(next(replay)["in0"], first[:4])
    assert np.array_equal(np.concatenate([b["in0"] for b in replay]), first[4:])
    assert cache.file is None and cache.kept == []


_TEMPORARY_FILE = tempfile.TemporaryFile


class _FullDisk:
    """A temporary file on a disk with room for `room` bytes."""

    def __init__(self, room):
        self.f, self.room = _TEMPORARY_FILE(), room

    def write(self, data):
        if self.f.seek(0, 2) + len(data) > self.room:
            raise OSError(28, "No space left on device")
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_input_cache_decodes_again_what_the_disk_had_no_room_for(tiny, monkeypatch):
    net, lists, preprocess = tiny
    monkeypatch.setattr(input_cache.tempfile, "TemporaryFile", lambda **kw: _FullDisk(10 * 3 * 32 * 32))
    cache = _InputCache(lists, preprocess, 4, 2, budget=1 << 20)
    first = np.concatenate([b["in0"] for b in cache.first_pass()])
    assert len(cache.kept) == 2 and cache.entries == 8
    assert np.array_equal(np.concatenate([b["in0"] for b in cache.second_pass()]), first)


def test_input_cache_file_cut_short_is_one_clear_error(tiny):
    net, lists, preprocess = tiny
    cache = _InputCache(lists, preprocess, 4, 2, budget=1 << 20)
    for _ in cache.first_pass():
        pass
    cache.file.truncate(100)
    with pytest.raises(NcnnlikeError, match="temporary file of decoded calibration inputs was cut short"):
        next(cache.second_pass())


@pytest.mark.parametrize("absmax", BIN_EDGE_ABSMAX)
def test_phase_2_binning_is_ncnns_float32_formula_on_bin_edges(absmax):
    absmax = np.float32(absmax)
    v = bin_edge_values(absmax, 5)
    histogram = Histogram(absmax)
    histogram.update(v[None])
    counts, zeros = ncnn_bins(v, absmax)
    assert np.array_equal(histogram.counts, counts.astype(np.uint64)) and histogram.zeros == zeros


def test_net_run_writes_into_given_output_arrays(tiny):
    net, lists, preprocess = tiny
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    blobs = ["2", "out0"]
    fresh = net.run({"in0": x}, blobs)
    out = {b: np.full_like(v, np.nan) for b, v in fresh.items()}
    result = net.run({"in0": x}, blobs, out=out)
    assert all(result[b] is out[b] and np.array_equal(out[b], fresh[b]) for b in blobs)
    with pytest.raises(NcnnlikeError, match="out\\['2'\\] must be"):
        net.run({"in0": x[:2]}, blobs, out=out)


CHILD = """
import resource, sys
from ncnnlike.io.model import load_model
from ncnnlike.quant.calibrate import collect_stats
from ncnnlike.quant.images import parse_preprocess, read_lists
from ncnnlike.runtime import Net
net = Net.from_graph(load_model(%r, %r))
net.opt.num_threads = 2
net.opt.use_int8_inference = False
preprocess = parse_preprocess(dict(%r, shape="[128,128,3]"), ["in0"])
collect_stats(net, read_lists([sys.argv[1]]), preprocess, batch_size=8, threads=2, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""" % (PARAM, BIN, OPTS)


def peak_rss_kb(tmp_path, count):
    """Peak RSS of a process calibrating tiny (at 128x128) on `count` images."""
    with open(LIST) as f:
        paths = [os.path.join(TINY, line.strip()) for line in f if line.strip()]
    listfile = tmp_path / ("list%d.txt" % count)
    listfile.write_text("\n".join((paths * (count // len(paths) + 1))[:count]) + "\n")
    out = subprocess.run([sys.executable, "-c", CHILD, str(listfile)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_peak_memory_does_not_grow_with_the_number_of_images(tmp_path):
    # 1.2 MB of measured blobs per image: keeping them would add ~100 MB for 80 more images;
    # the decoded-input cache may add at most 80 * 196 KB
    small, large = peak_rss_kb(tmp_path, 20), peak_rss_kb(tmp_path, 100)
    assert large - small < 40 * 1024, (small, large)


def test_phase_1_reduced_in_the_graph_equals_numpy_over_the_blobs(tiny):
    net, lists, preprocess = tiny
    stats = collect_absmax(net, lists, preprocess, batch_size=5, threads=2, progress=False)
    blobs = measured_blobs(net.graph)
    by_numpy = CalibrationStats(blobs.keys())
    for inputs in iter_batches(lists, preprocess, 7):
        outputs = net.run(inputs, list(dict.fromkeys(blobs.values())))
        for name, blob in blobs.items():
            by_numpy.update_absmax(name, outputs[blob])
    assert stats == by_numpy and all(s.absmax.absmax > 0 for s in stats.values())


def test_collect_stats_leaves_no_session_behind(tiny):
    net, lists, preprocess = tiny
    collect_stats(net, [lists[0][:3]], preprocess, progress=False)
    assert net._sessions == {}
