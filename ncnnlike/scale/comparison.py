"""model-compare on Ray workers: per-layer errors and output agreement, equal to one process's.

Each worker holds both models (and builds a trial model on demand, trials.py), measures its shards
batch by batch with quant.compare.compare_models, and sends per-batch terms (records.py) that the
driver replays in list order into a quant.compare.Comparison: the same report and JSON as one
process. The workers may also hold the held-apart samples of the mixed-precision search (part
"held"), whose check then runs on them too. A worker keeps the decoded inputs of its shards within
the budget one process uses for the whole list (compare.DEFAULT_CACHE_BYTES), and the fp32 network
outputs of its shards (small), for the trials that follow.
"""
import inspect
from collections import OrderedDict
from contextlib import contextmanager

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import (DEFAULT_CACHE_BYTES, Comparison, ErrorStats, OutputStats, check_outputs,
                                    compare_models, output_agreement, probes, reference_outputs)
from ncnnlike.quant.images import iter_batches
from ncnnlike.scale.dispatch import Job, run_in_order
from ncnnlike.scale.faults import strike
from ncnnlike.scale.records import BatchRecord, OutputTerms, add_error, add_output, sample_cosines
from ncnnlike.scale.shards import plan_shards, portable_lists, shard_lists

TRIAL_NETS = 2      # trial models a worker keeps built (the one it runs and the next one queued)


def _net(graph, threads, int8):
    from ncnnlike.runtime import Net
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = threads, int8
    return net


class CompareWorker:
    """One worker's state (a Ray actor): the fp32 and int8 models, the lists, decoded shards."""

    def __init__(self, fp_graph, int8_graph, lists, preprocess, batch_size, threads, fault=None):
        """`lists`: {part: lists}, the compared samples under "" (and e.g. held-apart ones)."""
        self.fp_graph, self.threads, self.fault = fp_graph, threads, fault
        self.fp_net, self.int8_net = _net(fp_graph, threads, False), _net(int8_graph, threads, True)
        self.outputs = check_outputs(fp_graph, int8_graph)
        self.lists, self.preprocess, self.batch_size = lists, preprocess, batch_size
        self.inputs, self.budget = {}, DEFAULT_CACHE_BYTES
        self.references = {}
        self.trial_nets, self.trial_specs = OrderedDict(), {}

    def _batches(self, shard):
        """The input batches of a shard: kept while they fit the budget, else decoded again."""
        key = (shard.part, shard.index)
        if key in self.inputs:
            return self.inputs[key]
        batches = list(iter_batches(shard_lists(self.lists[shard.part], shard), self.preprocess, self.batch_size,
                                    self.threads))
        size = sum(a.nbytes for batch in batches for a in batch.values())
        if size <= self.budget:
            self.inputs[key] = batches
            self.budget -= size
        return batches

    def compare(self, shard):
        """BatchRecords of one shard, each batch measured alone by quant.compare.compare_models."""
        records = []
        for batch in self._batches(shard):
            int8_net = _Recorder(self.int8_net)
            found = compare_models(self.fp_net, int8_net, [batch])
            reference = found.reference[0]
            records.append(BatchRecord(_terms(found.outputs, reference, int8_net.last), found.layers, reference))
        self.references[(shard.part, shard.index)] = [r.reference for r in records]
        strike(self.fault, "compare", shard)
        return records

    def reference(self, shard):
        """The fp32 network outputs of a shard's batches (kept by compare(), else computed)."""
        key = (shard.part, shard.index)
        if key not in self.references:
            self.references[key] = reference_outputs(self.fp_net, self._batches(shard))
        return self.references[key]

    def _trial_net(self, spec_id, spec, float_layers):
        """The model of a trial, converted by a local quant.trials.Trials made from `spec`
        (its constructor's arguments), built once per trial."""
        from ncnnlike.quant.trials import Trials
        key = (spec_id, frozenset(float_layers))
        if key not in self.trial_nets:
            if spec_id not in self.trial_specs:
                args, kwargs = spec
                bound = inspect.signature(Trials).bind(*args, **kwargs)
                bound.arguments["graph"] = self.fp_graph        # sent once, with the pool
                self.trial_specs = {spec_id: Trials(*bound.args, **bound.kwargs)}
            local = self.trial_specs[spec_id]
            self.trial_nets[key] = local.net(local.convert(float_layers))
            while len(self.trial_nets) > TRIAL_NETS:
                self.trial_nets.popitem(last=False)
        return self.trial_nets[key]

    def trial(self, spec_id, spec, float_layers, shards, limit):
        """Per shard, the BatchRecords (outputs only) of the trial model against the fp32 outputs,
        over the batches whose global index is below `limit`."""
        net = self._trial_net(spec_id, spec, float_layers)
        found = []
        for shard in shards:
            first = shard.batches(self.batch_size)[0]
            records = []
            for k, (batch, ref) in enumerate(zip(self._batches(shard), self.reference(shard))):
                if first + k >= limit:
                    break
                recorder = _Recorder(net)
                records.append(BatchRecord(_terms(output_agreement(recorder, [batch], [ref]), ref, recorder.last)))
            found.append(records)
        strike(self.fault, "trial", shards[0])
        return found


def _terms(outputs, reference, test):
    """OutputTerms per output of one batch: its OutputStats alone and each sample's cosine."""
    return OrderedDict((name, OutputTerms(stats, sample_cosines(reference[name], test[name])))
                       for name, stats in outputs.items())


class _Recorder:
    """A Net that keeps the outputs of its last run: compare_models and output_agreement run the
    int8 model through it, and the per-sample cosines are then taken from those outputs."""

    def __init__(self, net):
        self.net, self.last = net, None

    def __getattr__(self, name):
        return getattr(self.net, name)

    def run(self, *args, **kwargs):
        self.last = self.net.run(*args, **kwargs)
        return self.last


class ClusterCompare:
    """model-compare's passes on a pool of CompareWorkers (made by cluster_compare), over the
    samples of one part of the lists the workers hold (`parts`: part -> its shards)."""

    def __init__(self, pool, parts, batch_size, fp_graph, int8_graph, part=""):
        self.pool, self.parts, self.shards, self.batch_size = pool, parts, parts[part], batch_size
        self.fp_graph, self.int8_graph = fp_graph, int8_graph

    def part(self, name):
        """The same workers, over the samples of lists `name` (e.g. "held": the held-apart ones)."""
        return ClusterCompare(self.pool, self.parts, self.batch_size, self.fp_graph, self.int8_graph, name)

    def reference(self, progress=True):
        """The fp32 network outputs of every batch, in list order (quant.compare.reference_outputs)."""
        found = []
        jobs = [Job(lambda actor, s=s: actor.call.remote("reference", s), s.size, _where(s)) for s in self.shards]
        run_in_order(self.pool, jobs, found.extend, "fp32 outputs", progress)
        return found

    def compare(self, progress=True):
        """The Comparison compare_models gives on the whole list (the fp32 outputs included)."""
        found = probes(self.fp_graph, self.int8_graph)
        outputs = check_outputs(self.fp_graph, self.int8_graph)
        layers = OrderedDict((name, ErrorStats()) for name in found)
        out_stats = OrderedDict((name, OutputStats()) for name in outputs)
        reference, samples = [], []

        def fold(records):
            for record in records:
                for name, terms in record.layers.items():
                    add_error(layers[name], terms)
                for name, terms in record.outputs.items():
                    add_output(out_stats[name], terms)
                reference.append(record.reference)
                samples.append(next(iter(record.outputs.values())).stats.samples)

        jobs = [Job(lambda actor, s=s: actor.call.remote("compare", s), s.size, _where(s)) for s in self.shards]
        run_in_order(self.pool, jobs, fold, "compare", progress)
        if not sum(samples):
            raise NcnnlikeError("no samples to compare")
        return Comparison(layers, found, out_stats, reference, sum(samples))

    def trials(self, *args, **kwargs):
        """quant.trials.Trials(*args, **kwargs) measured by the workers (scale/trials.py)."""
        from ncnnlike.scale.trials import ClusterTrials
        return ClusterTrials(self, *args, **kwargs)


def _where(shard):
    return "lines %d-%d of the list" % (shard.start + 1, shard.stop)


@contextmanager
def cluster_compare(cluster, fp_graph, int8_graph, lists, preprocess, batch_size, held=None):
    """A ClusterCompare on `cluster`'s workers for the block's duration (None without a cluster);
    `held` (lists of held-apart samples) is sent along: ClusterCompare.part("held")."""
    if cluster is None:
        yield None
        return
    check_outputs(fp_graph, int8_graph)
    probes(fp_graph, int8_graph)
    named = {"": lists, "held": held} if held else {"": lists}
    parts = {name: plan_shards(len(v[0]), cluster.workers, batch_size, cluster.shard, name)
             for name, v in named.items()}
    worker_lists = {name: portable_lists(v) for name, v in named.items()}
    with cluster.session(), cluster.pool(CompareWorker, fp_graph, int8_graph, worker_lists, preprocess, batch_size,
                                         cluster.threads, cluster.fault) as pool:
        yield ClusterCompare(pool, parts, batch_size, fp_graph, int8_graph)
