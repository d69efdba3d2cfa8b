"""The calibration inputs decoded in phase 1, kept for phase 2 within a memory budget.

ncnn2table decodes every image twice (once per pass); decoding is a tenth of a pass. Phase 1 keeps
its batches while they fit in `budget` bytes, and phase 2 replays them, decoding only the rest.
An image input is kept as its uint8 pixels, a quarter of the float32 size: ncnn's normalisation
maps each channel's 256 pixel values through one table (quant/images.py from_bgr), so the float
sample is looked up again exactly from the pixel indices; a sample the table does not give back
exactly (npy inputs, or anything else) is kept as it is.
"""
import numpy as np

from ncnnlike.quant.images import TYPE_IMAGE, iter_batches, substract_mean_normalize


def pixel_table(prep, channels):
    """float32 (channels, 256): the normalised value of each pixel value of each channel."""
    return substract_mean_normalize(np.tile(np.arange(256, dtype=np.float32), (channels, 1)), prep.mean, prep.norm)


class Pixels:
    """A batch (N, C, ...) of one image input as uint8 indices into its pixel table."""

    def __init__(self, indices, table):
        self.indices, self.table = indices, table

    @property
    def nbytes(self):
        return self.indices.nbytes

    def expand(self):
        out = np.empty(self.indices.shape, np.float32)
        for k in range(self.table.shape[0]):
            np.take(self.table[k], self.indices[:, k], out=out[:, k])
        return out


def compact(batch, prep):
    """Pixels of a float batch of an image input when its table gives it back exactly, else the batch."""
    if prep.type != TYPE_IMAGE or batch.ndim < 3 or batch.dtype != np.float32:
        return batch
    table = pixel_table(prep, batch.shape[1])
    indices = np.empty(batch.shape, np.uint8)
    for k in range(batch.shape[1]):
        order = np.argsort(table[k], kind="stable")
        pos = np.clip(np.searchsorted(table[k][order], batch[:, k]), 0, 255)
        indices[:, k] = order[pos]
    packed = Pixels(indices, table)
    return packed if np.array_equal(packed.expand(), batch) else batch


def expand(item):
    return item.expand() if isinstance(item, Pixels) else item


class InputCache:
    """Phase-1 batches, kept for phase 2 while their total size stays within `budget` bytes."""

    def __init__(self, lists, preprocess, batch_size, threads, budget):
        self.lists, self.preprocess, self.batch_size, self.threads = lists, preprocess, batch_size, threads
        self.budget, self.kept = budget, []
        self.entries = 0          # list entries the kept batches cover (damaged ones skipped included)
        self.full = False

    def first_pass(self):
        consumed = []
        for inputs in iter_batches(self.lists, self.preprocess, self.batch_size, self.threads, consumed):
            if not self.full:
                kept = {prep.name: compact(inputs[prep.name], prep) for prep in self.preprocess} \
                    if self.budget > 0 else {}
                size = sum(item.nbytes for item in kept.values())
                if kept and size <= self.budget:
                    self.kept.append(kept)
                    self.budget -= size
                    self.entries = consumed[-1]
                else:
                    self.full = True
            yield inputs
        if not self.full:
            self.entries = len(self.lists[0])

    def second_pass(self):
        for kept in self.kept:
            yield {name: expand(item) for name, item in kept.items()}
        if self.entries < len(self.lists[0]):
            rest = [entries[self.entries:] for entries in self.lists]
            yield from iter_batches(rest, self.preprocess, self.batch_size, self.threads)
