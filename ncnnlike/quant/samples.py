"""Bounded samples of the measured blobs, kept during calibration for method=auto and the corrections.

Histograms are enough to pick a threshold from the distribution of one blob; judging a threshold by
the error of the layer's *output* (method=auto), and the weight corrections (bias correction,
rounding), need real bottoms to run the layer on. BlobSamples copies the first samples of each
measured blob out of the calibration batches, at most `budget` bytes in all (shared evenly among
the blobs, at least one sample and at most `max_samples` each): memory does not grow with the
number of images, a small blob (a classifier's pooled vector) keeps many samples and a large one
(an early feature map) a few, which still hold thousands of positions.
"""
from collections import OrderedDict

import numpy as np

DEFAULT_BUDGET = 256 << 20
MAX_SAMPLES = 256


class BlobSamples:
    """blob -> (n, *shape) float32 array of its first n samples, n fixed per blob by the budget."""

    def __init__(self, blobs, budget=DEFAULT_BUDGET, max_samples=MAX_SAMPLES):
        self.blobs = list(dict.fromkeys(blobs))
        self.budget, self.max_samples = int(budget), int(max_samples)
        self.arrays = OrderedDict()
        self.limits = {}

    def _limit(self, value):
        per_sample = max(1, value[0].nbytes)
        share = self.budget // max(1, len(self.blobs))
        return int(max(1, min(self.max_samples, share // per_sample)))

    def update(self, outputs, n=None):
        """Copy what is still wanted of a batch (blob -> (N, ...) array; first n samples)."""
        for blob in self.blobs:
            value = outputs[blob] if n is None else outputs[blob][:n]
            if not len(value):
                continue
            if blob not in self.limits:
                self.limits[blob] = self._limit(value)
            have = self.arrays.get(blob)
            room = self.limits[blob] - (0 if have is None else len(have))
            if room <= 0:
                continue
            part = np.array(value[:room], np.float32)
            self.arrays[blob] = part if have is None else np.concatenate([have, part])

    def full(self):
        """Every blob holds its quota (a later batch adds nothing)."""
        return all(b in self.arrays and len(self.arrays[b]) >= self.limits[b] for b in self.blobs)

    def __getitem__(self, blob):
        return self.arrays[blob]

    def __contains__(self, blob):
        return blob in self.arrays

    def nbytes(self):
        return sum(a.nbytes for a in self.arrays.values())
