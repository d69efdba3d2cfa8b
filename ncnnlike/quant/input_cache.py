"""The calibration inputs decoded in phase 1, kept for phase 2 within a memory budget.

ncnn2table decodes every image twice (once per pass); decoding is a tenth of a pass. Phase 1 keeps
its batches while they fit in `budget` bytes, and phase 2 replays them, decoding only the rest.
An image input is kept as its uint8 pixels (quant/pixels.py), a quarter of the float32 size, as
decoding gives them: ncnn's normalisation maps each channel's 256 pixel values through one table,
so the float sample is looked up again exactly. npy inputs are kept as they are.
"""
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.pixels import expand


# phase 1 decodes up to this many samples ahead: while its session is built (Lite0: 0.2 s, one core
# idle) the decoders work ahead (kept as uint8 pixels: 150 KB a 224x224 image)
AHEAD_SAMPLES = 32


class InputCache:
    """Phase-1 batches, kept for phase 2 while their total size stays within `budget` bytes."""

    def __init__(self, lists, preprocess, batch_size, threads, budget):
        self.lists, self.preprocess, self.batch_size, self.threads = lists, preprocess, batch_size, threads
        self.budget, self.kept = budget, []
        self.entries = 0          # list entries the kept batches cover (damaged ones skipped included)
        self.full = False

    def first_pass(self):
        """The batches of every sample (float32), keeping the first ones within the budget."""
        consumed = []
        ahead = max(1, AHEAD_SAMPLES // max(1, int(self.batch_size)))
        for batch in iter_batches(self.lists, self.preprocess, self.batch_size, self.threads, consumed, pixels=True,
                                  ahead=ahead):
            if not self.full:
                size = sum(item.nbytes for item in batch.values())
                if self.budget > 0 and size <= self.budget:
                    self.kept.append(batch)
                    self.budget -= size
                    self.entries = consumed[-1]
                else:
                    self.full = True
            yield {name: expand(item) for name, item in batch.items()}
        if not self.full:
            self.entries = len(self.lists[0])

    def second_pass(self):
        """The same batches again: the kept ones expanded, the rest decoded anew."""
        for kept in self.kept:
            yield {name: expand(item) for name, item in kept.items()}
        if self.entries < len(self.lists[0]):
            rest = [entries[self.entries:] for entries in self.lists]
            yield from iter_batches(rest, self.preprocess, self.batch_size, self.threads)
