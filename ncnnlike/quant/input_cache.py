"""The calibration inputs decoded in phase 1, kept for phase 2 within a budget, in a temporary file.

ncnn2table decodes every image twice (once per pass); decoding is a tenth of a pass. Phase 1 keeps
its batches while they fit in `budget` bytes, and phase 2 replays them, decoding only the rest.
An image input is kept as its uint8 pixels (quant/pixels.py), a quarter of the float32 size, as
decoding gives them: ncnn's normalisation maps each channel's 256 pixel values through one table,
so the float sample is looked up again exactly. npy inputs are kept as they are.

They are kept in an unnamed temporary file (tempfile.TemporaryFile: no name, gone when closed or
when the process ends), not in the process's memory: phase 2 reads each once, in order (Lite0:
150 KB an image, ~20 us to read back). The process's peak memory then does not hold them (100
images: 14 MB less), and the budget can cover a larger list (500 images: all 75 MB kept, where 32
MB of memory kept 213 and phase 2 decoded the other 287 again). When the file cannot be written
(no space left), the batches from there on are decoded again in phase 2.
"""
import tempfile

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.images import iter_batches
from ncnnlike.quant.pixels import Pixels, expand


# phase 1 decodes up to this many samples ahead: while its session is built (Lite0: 0.2 s, one core
# idle) the decoders work ahead (kept as uint8 pixels: 150 KB a 224x224 image)
AHEAD_SAMPLES = 32


class InputCache:
    """Phase-1 batches, kept for phase 2 while their total size stays within `budget` bytes."""

    def __init__(self, lists, preprocess, batch_size, threads, budget):
        self.lists, self.preprocess, self.batch_size, self.threads = lists, preprocess, batch_size, threads
        self.budget, self.kept = budget, []   # kept: per batch, {input: where its item is in the file}
        self.entries = 0          # list entries the kept batches cover (damaged ones skipped included)
        self.full = False
        self.file = None

    def first_pass(self):
        """The batches of every sample (float32), keeping the first ones within the budget."""
        consumed = []
        ahead = max(1, AHEAD_SAMPLES // max(1, int(self.batch_size)))
        for batch in iter_batches(self.lists, self.preprocess, self.batch_size, self.threads, consumed, pixels=True,
                                  ahead=ahead):
            if not self.full:
                size = sum(item.nbytes for item in batch.values())
                if self.budget > 0 and size <= self.budget and self._keep(batch):
                    self.budget -= size
                    self.entries = consumed[-1]
                else:
                    self.full = True
            yield {name: expand(item) for name, item in batch.items()}
        if not self.full:
            self.entries = len(self.lists[0])

    def second_pass(self):
        """The same batches again: the kept ones read back and expanded, the rest decoded anew."""
        for record in self.kept:
            yield {name: expand(_read(self.file, stored)) for name, stored in record.items()}
        self.close()
        if self.entries < len(self.lists[0]):
            rest = [entries[self.entries:] for entries in self.lists]
            yield from iter_batches(rest, self.preprocess, self.batch_size, self.threads)

    def close(self):
        """Let the temporary file go (the kept batches with it)."""
        if self.file is not None:
            self.file.close()
            self.file = None
        self.kept = []

    def _keep(self, batch):
        """Append the batch to the file; False when it cannot be written."""
        try:
            if self.file is None:
                self.file = tempfile.TemporaryFile(prefix="ncnnlike-inputs-")
            record = {name: _write(self.file, item) for name, item in batch.items()}
        except OSError:
            return False
        self.kept.append(record)
        return True


def _write(f, item):
    """Append a batch item (Pixels or a float array) to `f`: (offset, shape, dtype, pixel table or None)."""
    array = np.ascontiguousarray(item.indices if isinstance(item, Pixels) else item)
    offset = f.seek(0, 2)
    f.write(memoryview(array.reshape(-1)).cast("B"))
    return offset, array.shape, array.dtype, item.table if isinstance(item, Pixels) else None


def _read(f, stored):
    """The batch item written at stored[0] by _write."""
    offset, shape, dtype, table = stored
    array = np.empty(shape, dtype)
    f.seek(offset)
    if f.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
        raise NcnnlikeError("the temporary file of decoded calibration inputs was cut short")
    return Pixels(array, table) if table is not None else array
