"""Shards of an image list: consecutive runs of list lines, each a whole number of batches.

A shard starts on a batch boundary, so the batches a worker makes of its shard are exactly the
batches one process makes of the whole list: results that are summed batch by batch (model-compare's
error sums) then add up in the same order, and calibration (integer histograms, extrema) does not
depend on it at all. Shards are smaller than a worker's share of the list, so that a slow or
restarted worker does not hold up the others and the progress bar moves, and at most MAX_SHARD
images, so that a dead worker repeats little work; the driver folds one result per shard.
"""
import os
from dataclasses import dataclass

from ncnnlike.errors import NcnnlikeError

SHARDS_PER_WORKER = 4
MAX_SHARD = 1024


@dataclass(frozen=True)
class Shard:
    """List lines [start, stop) (0-based, over the non-blank lines), the index-th shard of the lists
    named `part` (a job may send its workers more than one set of lists: "" is the main one)."""
    index: int
    start: int
    stop: int
    part: str = ""

    @property
    def size(self):
        return self.stop - self.start

    def batches(self, batch_size):
        """Global indices of this shard's batches, [first, last)."""
        return self.start // batch_size, -(-self.stop // batch_size)


def shard_size(count, workers, batch_size):
    """Images per shard: about count / (SHARDS_PER_WORKER * workers), within [batch_size, MAX_SHARD],
    rounded up to whole batches."""
    target = -(-count // (SHARDS_PER_WORKER * max(1, workers)))
    target = min(max(target, batch_size), max(MAX_SHARD, batch_size))
    return -(-target // batch_size) * batch_size


def plan_shards(count, workers, batch_size, size=None, part=""):
    """[Shard] covering lines 0..count-1 of lists `part` in order; `size` (images, rounded up to
    whole batches) overrides shard_size()."""
    if count < 1:
        raise NcnnlikeError("no samples to process")
    batch_size = max(1, int(batch_size))
    size = shard_size(count, workers, batch_size) if size is None else -(-max(1, size) // batch_size) * batch_size
    return [Shard(k, start, min(count, start + size), part) for k, start in enumerate(range(0, count, size))]


def shard_lists(lists, shard):
    """The entries of one shard, one list per model input."""
    return [entries[shard.start:shard.stop] for entries in lists]


def portable_lists(lists):
    """The lists with every sample path made absolute (a worker's current folder is not the
    driver's); on a multi-node cluster those paths must exist on every node (docs/scale-out.md)."""
    return [[entry._replace(path=os.path.abspath(entry.path)) for entry in entries] for entries in lists]
