"""Shards of a list: whole batches, in order, covering every line; the `workers=` options."""
import os

import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
from ncnnlike.scale.cluster import cluster_option
from ncnnlike.scale.shards import MAX_SHARD, plan_shards, portable_lists, shard_lists

TINY = os.path.join(REFERENCE, "tiny")
OPTS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "BGR"}


@pytest.mark.parametrize("count,workers,batch", [(1, 2, 4), (20, 2, 4), (101, 3, 8), (50000, 2, 8),
                                                 (1000000, 64, 16), (7, 1, 3)])
def test_shards_cover_every_line_in_order_and_start_on_batch_boundaries(count, workers, batch):
    shards = plan_shards(count, workers, batch)
    assert [s.index for s in shards] == list(range(len(shards)))
    assert shards[0].start == 0 and shards[-1].stop == count
    assert all(a.stop == b.start for a, b in zip(shards, shards[1:]))
    assert all(s.start % batch == 0 and 0 < s.size <= max(MAX_SHARD, batch) for s in shards)
    assert len({s.size for s in shards[:-1]}) <= 1


def test_a_shard_makes_the_same_batches_as_the_whole_list():
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    preprocess = parse_preprocess(OPTS, ["in0"])
    whole = [b["in0"] for b in iter_batches(lists, preprocess, 4)]
    shards = plan_shards(20, 2, 4, size=8)
    parts = [b["in0"] for s in shards for b in iter_batches(shard_lists(lists, s), preprocess, 4)]
    assert len(parts) == len(whole) and all(np.array_equal(a, b) for a, b in zip(whole, parts))


def test_large_lists_are_cut_into_shards_of_at_most_max_shard_images():
    shards = plan_shards(50000, 2, 8)
    assert shards[0].size == MAX_SHARD and len(shards) == -(-50000 // MAX_SHARD)


def test_small_lists_give_each_worker_several_shards():
    assert len(plan_shards(500, 2, 4)) == 8


def test_shard_size_is_rounded_up_to_whole_batches():
    assert [s.size for s in plan_shards(20, 2, 4, size=5)] == [8, 8, 4]


def test_paths_sent_to_workers_are_absolute():
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    assert all(os.path.isabs(e.path) and os.path.exists(e.path) for e in portable_lists(lists)[0])


def test_no_workers_option_means_one_process():
    assert cluster_option({"thread": "2"}) is None


@pytest.mark.parametrize("options,message", [({"ray_address": "auto"}, "needs workers="),
                                             ({"workers": "0"}, "at least 1"),
                                             ({"workers": "two"}, "expected an integer")])
def test_bad_workers_options_are_one_line_errors(options, message):
    with pytest.raises(NcnnlikeError, match=message):
        cluster_option(options)
