"""model2table's two calibration passes on Ray workers; the statistics equal one process's.

    phase 1: each shard's absmax/min/max (CalibrationStats, no histograms), merged in shard order
    broadcast: the merged phase 1, put once in the object store, read by every phase-2 call
    phase 2: each shard's histograms over the merged absmax, merged (integer counts add up)

With `samples` (method=auto, correct=), the shards at the top of the list (up to BlobSamples'
max_samples valid images, counted in phase 1) also send back their first samples of the measured
blobs, joined in shard order into what one pass keeps (quant/samples.py).

This is quant/calibrate.py's recipe for shards (collect_absmax, merge_stats, collect_histograms)
with the shards on workers: the result equals collect_stats(...) on the whole list, so thresholds,
chosen on the driver by the same methods, give the same table bytes. A worker streams its shard
batch by batch as one process does (bounded memory); it holds the model and its runtime sessions
for the whole job. Decoded images are not kept between the phases (each worker decodes its phase-2
shards again): a worker's phase-2 shards are not its phase-1 ones.
"""
from ncnnlike.quant.calibrate import collect_absmax, collect_histograms, merge_stats
from ncnnlike.quant.samples import BlobSamples
from ncnnlike.scale.dispatch import Job, run_in_order
from ncnnlike.scale.faults import strike
from ncnnlike.scale.shards import plan_shards, portable_lists, shard_lists


class CalibrationWorker:
    """One worker's state (a Ray actor): the fp32 model ready to run, the lists, the preprocessing."""

    def __init__(self, graph, lists, preprocess, batch_size, threads, fault=None):
        from ncnnlike.runtime import Net
        self.net = Net.from_graph(graph)
        self.net.opt.num_threads = threads
        self.net.opt.use_int8_inference = False
        self.lists, self.preprocess = lists, preprocess
        self.batch_size, self.threads, self.fault = batch_size, threads, fault

    def absmax(self, shard):
        """Phase 1 of one shard."""
        stats = collect_absmax(self.net, shard_lists(self.lists, shard), self.preprocess, self.batch_size,
                               self.threads, progress=False)
        strike(self.fault, "absmax", shard)
        return stats

    def histograms(self, shard, absmax, samples=None):
        """Phase 2 of one shard, binned over the merged phase 1 of the whole list; with `samples`
        ((blobs, budget, max_samples) of a BlobSamples), also the shard's first samples of those
        blobs: (stats, BlobSamples or None)."""
        kept = BlobSamples(*samples) if samples is not None else None
        stats = collect_histograms(self.net, shard_lists(self.lists, shard), self.preprocess, absmax,
                                   self.batch_size, self.threads, progress=False, samples=kept)
        strike(self.fault, "histograms", shard)
        return stats, kept


def cluster_stats(cluster, graph, lists, preprocess, histogram=True, batch_size=4, progress=True, samples=None):
    """CalibrationStats of every conv layer over `lists`, computed on `cluster`'s workers: equal to
    quant.calibrate.collect_stats on the same arguments. `samples` (a BlobSamples, with `histogram`)
    receives the first samples of the measured blobs, as collect_stats would keep them."""
    import ray
    shards = plan_shards(len(lists[0]), cluster.workers, batch_size, cluster.shard)
    worker_args = (graph, portable_lists(lists), preprocess, batch_size, cluster.threads, cluster.fault)
    with cluster.session(), cluster.pool(CalibrationWorker, *worker_args) as pool:
        stats, counts = _merged(pool, shards, _absmax_call, "count the absmax", progress)
        if histogram:
            call = _histograms_call(ray.put(stats), samples, _sampled(shards, counts, samples))
            stats, _ = _merged(pool, shards, call, "build histogram", progress, samples)
    return stats


def _absmax_call(actor, shard):
    return actor.call.remote("absmax", shard)


def _histograms_call(absmax, samples, sampled):
    """Phase-2 calls over the broadcast phase 1 `absmax`, asking the `sampled` shards for samples."""
    spec = None if samples is None else (samples.blobs, samples.budget, samples.max_samples)

    def call(actor, shard):
        return actor.call.remote("histograms", shard, absmax, spec if shard.index in sampled else None)
    return call


def _sampled(shards, counts, samples):
    """Indices of the shards whose samples one pass would keep: those that start before
    samples.max_samples valid images (counted per shard in phase 1: skip_bad may drop some)."""
    found, before = set(), 0
    for shard, count in zip(shards, counts):
        if samples is not None and before < samples.max_samples:
            found.add(shard.index)
        before += count
    return found


def _merged(pool, shards, call, label, progress, samples=None):
    """(the shards' statistics merged in shard order, each shard's sample count); phase-2 results
    also carry samples, added to `samples` in shard order."""
    merged, counts = [], []

    def fold(part):
        if isinstance(part, tuple):
            part, kept = part
            if samples is not None and kept is not None and kept.arrays:
                samples.update(kept.arrays)       # keeps what one pass would: the first of each blob
        counts.append(next(iter(part.values())).absmax.samples if part else 0)
        merged[:] = [merge_stats(merged + [part])] if merged else [part]

    jobs = [Job(lambda actor, s=s: call(actor, s), s.size, "lines %d-%d of the list" % (s.start + 1, s.stop))
            for s in shards]
    run_in_order(pool, jobs, fold, label, progress)
    return merged[0], counts
