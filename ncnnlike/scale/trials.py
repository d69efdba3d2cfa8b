"""The mixed-precision search's trials on Ray workers: quant.trials.Trials, same figures.

A trial (one set of layers kept float) is measured on the workers: each builds a local Trials from
the same arguments (with its own copy of the float model, batches and fp32 outputs), converts
the model with Trials.convert, and runs its shards; the per-batch terms are replayed on the driver
in list order (records.py), so every trial's figures, hence the ranking, the search path and the
written table, equal one process's. One trial alone is split over the workers by shard; many
trials at once (the sensitivity ranking: prefetch_sensitivity) go one per worker, each over all
shards, so that a worker converts each model once.
"""
import inspect
import time
import uuid

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.trials import Trial, Trials
from ncnnlike.scale.dispatch import Job, run_in_order
from ncnnlike.scale.records import replay_outputs


class ClusterTrials(Trials):
    """Trials(*args, **kwargs) whose measurements run on the CompareWorkers of a ClusterCompare,
    over the first len(reference) batches (as `batches` covers them: compare.subset)."""

    def __init__(self, remote, *args, **kwargs):
        import ray
        super().__init__(*args, **kwargs)
        if self.graph is not remote.fp_graph:
            raise NcnnlikeError("the trials' float model must be the one the workers were given")
        bound = inspect.signature(Trials).bind(*args, **kwargs)
        for name in ("graph", "batches", "reference"):      # the workers have their own
            bound.arguments[name] = None
        self.remote, self.limit = remote, len(self.reference)
        self.spec_id, self.spec = uuid.uuid4().hex, ray.put((bound.args, bound.kwargs))
        self.shards = [s for s in remote.shards if s.batches(remote.batch_size)[0] < self.limit]
        self.outputs = list(self.reference[0]) if self.reference else self.graph.output_names()

    def measure(self, float_layers):
        """Trial with `float_layers` kept float and every other candidate int8 (cached by the set)."""
        key = self.key(float_layers)
        if key not in self._done:
            self._measure([key])
        return self._done[key]

    def prefetch(self, sets):
        """Measure every set of `sets` not measured yet, all at once."""
        keys = list(dict.fromkeys(self.key(s) for s in sets))
        self._measure([k for k in keys if k not in self._done])

    def prefetch_sensitivity(self, modes):
        """prefetch() the trials sensitivity.sensitivity(self, modes) asks for, one by one."""
        sets = [()]
        for name in self.candidates:
            if "float_one" in modes:
                sets.append({name})
            if "quantize_one" in modes:
                sets.append(set(self.candidates) - {name})
        self.prefetch(sets)

    def _measure(self, keys):
        """Run the trials of `keys` on the workers and keep their Trials."""
        if not keys:
            return
        start = time.perf_counter()
        whole = len(keys) >= len(self.remote.pool.actors)
        groups = [self.shards] if whole else [[s] for s in self.shards]
        jobs, owners = [], []
        for key in keys:
            for group in groups:
                jobs.append(Job(self._call(key, group), 0, "a trial with %d layers float" % len(key)))
                owners.append(key)
        records = {key: [] for key in keys}
        owner = iter(owners)

        def fold(per_shard):
            records[next(owner)].extend(r for shard_records in per_shard for r in shard_records)

        run_in_order(self.remote.pool, jobs, fold, progress=False)
        for key in keys:
            self._done[key] = Trial(key, replay_outputs(records[key], self.outputs), self.metric)
        self.runs += len(keys)
        self.seconds += time.perf_counter() - start

    def _call(self, key, shards):
        def call(actor):
            return actor.call.remote("trial", self.spec_id, self.spec, key, shards, self.limit)
        return call
