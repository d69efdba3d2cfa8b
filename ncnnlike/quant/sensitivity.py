"""Per-layer sensitivity: the effect of one layer's precision on the network outputs (DESIGN: quant/sensitivity.py).

Two ways per layer: `quantize_one` (only that layer int8: the damage it does alone) and
`float_one` (every other layer int8, that one float: the gain of keeping it float, measured in
the real int8 context). Both are judged by the task proxy first (per-step argmax agreement for a
sequence output, top-1 agreement for class scores: quant/compare.OutputStats) and the output
cosine second, since a cosine that barely moves can hide flipped decisions and the other way round.

quick_sensitivity measures both in one pass each: one run of the float model (for quantize_one)
and one of the all-int8 model without requantize fusion (for float_one) over the ranking samples
cache the blobs that cross each layer's cut (quant/downstream.py); each layer's trial then runs
only that layer and those after it, from the cache, on the fast int8 kernels. `sensitivity`
measures the same trials as whole-model runs (any Trials-like object: the scale-out workers).
Automatic mixed precision over these rankings is in quant/mixed.py.
"""
from collections import OrderedDict
from dataclasses import dataclass

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant import downstream
from ncnnlike.quant.compare import OutputStats, output_agreement
from ncnnlike.quant.trials import Trial, Trials, table_without  # noqa: F401 (the module's public names)
from ncnnlike.runtime import Net

MODES = ("float_one", "quantize_one")
CACHE_BUDGET = 192 << 20      # bytes of cached activations (float16) for quick_sensitivity
RANK_BATCH = 4


@dataclass
class Sensitivity:
    """One layer's measured effect on the network outputs, in both modes (None if not measured),
    and the all-int8 trial on the same samples it is judged against."""
    layer: str
    baseline: Trial = None
    float_one: Trial = None
    quantize_one: Trial = None

    def as_dict(self):
        entry = {"layer": self.layer}
        for mode in MODES:
            trial = getattr(self, mode)
            if trial is not None:
                entry[mode] = {"output_cosine": trial.cosine, "agreement": trial.agreement,
                               "step_agreement": trial.fine}
        return entry


def _check_modes(modes):
    for mode in modes:
        if mode not in MODES:
            raise NcnnlikeError("unknown sensitivity mode '%s' (expected %s)" % (mode, " or ".join(MODES)))


def sensitivity(trials, modes=("float_one",), progress=None):
    """OrderedDict layer -> Sensitivity over every candidate, each trial a whole-model run."""
    _check_modes(modes)
    found = OrderedDict()
    for i, name in enumerate(trials.candidates):
        entry = Sensitivity(name, trials.all_int8())
        if "float_one" in modes:
            entry.float_one = trials.measure({name})
        if "quantize_one" in modes:
            entry.quantize_one = trials.only_int8(name)
        found[name] = entry
        if progress:
            progress(i + 1, len(trials.candidates))
    return found


def _rebatch(batches, count):
    """The first `count` samples of a sequence of input batches, in batches of RANK_BATCH."""
    rows, taken = [], 0
    for batch in batches:
        n = len(next(iter(batch.values())))
        for i in range(0, n, RANK_BATCH):
            if taken >= count:
                return rows
            size = min(RANK_BATCH, n - i, count - taken)
            rows.append({k: v[i:i + size] for k, v in batch.items()})
            taken += size
    return rows


def _from_cache(trials, graph, cache, blobs):
    """The Trial-like figures of `graph` run from `cache` over the frontier `blobs`."""
    net = trials.net(graph)
    stats = OrderedDict((o, OutputStats()) for o in cache.outputs)
    for k in range(len(cache)):
        out = downstream.run_from(net, cache, blobs, k)
        for o in cache.outputs:
            stats[o].update(cache.reference[k][o], out[o])
    return stats


def quick_sensitivity(trials, batches, modes=MODES, progress=None, samples=None, budget=CACHE_BUDGET):
    """(OrderedDict layer -> Sensitivity, samples used) from cached activations (module docstring).

    `trials` is a local Trials (its graph, table, adjustments, threads and int8 mode are used);
    `batches` the input batches to rank on (the first `samples`, or as many as `budget` allows)."""
    _check_modes(modes)
    graph = trials.graph
    frontiers = downstream.frontiers(graph, trials.candidates)
    union = list(dict.fromkeys(b for f in frontiers.values() for b in f))
    fp_net = Net.from_graph(graph)
    fp_net.opt.num_threads, fp_net.opt.use_int8_inference = trials.threads, False
    first = next(iter(batches))
    count = downstream.sample_count(downstream.frontier_bytes(fp_net, first, union), budget, high=samples or 16)
    rank_batches = _rebatch(batches, count)
    outputs = graph.output_names()
    cache = downstream.ActivationCache(fp_net, rank_batches, union, outputs)
    reference = cache.reference
    baseline = Trial(frozenset(), output_agreement(trials.net(trials.convert(())), rank_batches, reference),
                     trials.metric)
    found = OrderedDict((name, Sensitivity(name, baseline)) for name in trials.candidates)
    total, done = len(found) * len(modes), 0
    for mode in sorted(modes, key=lambda m: m != "quantize_one"):     # the float cache first, then int8
        if mode == "float_one":
            cache = None
            cache = downstream.ActivationCache(trials.net(trials.convert((), fuse=False)), rank_batches, union, [])
            cache.outputs, cache.reference = outputs, reference
        for name in found:
            float_set = {name} if mode == "float_one" else set(trials.candidates) - {name}
            stats = _from_cache(trials, trials.convert(float_set), cache, frontiers[name])
            setattr(found[name], mode, Trial(frozenset(float_set), stats, trials.metric))
            done += 1
            if progress:
                progress(done, total)
    return found, sum(len(next(iter(b.values()))) for b in rank_batches)


def _key(trial):
    return (trial.fine, trial.agreement, trial.cosine)


def ranking(found, mode="float_one"):
    """Layer names, most sensitive first: the best task proxy (then cosine) when kept float alone
    (float_one), or the worst when quantized alone (quantize_one); ties keep model order."""
    if mode == "float_one":
        return sorted(found, key=lambda name: tuple(-v for v in _key(found[name].float_one)))
    if mode == "quantize_one":
        return sorted(found, key=lambda name: _key(found[name].quantize_one))
    raise NcnnlikeError("unknown sensitivity mode '%s' (expected %s)" % (mode, " or ".join(MODES)))


def format_sensitivity(found, order, seconds=None):
    """Printed ranking: one line per layer, most sensitive first, with both modes where measured."""
    baseline = found[order[0]].baseline
    lines = ["sensitivity on %d samples (vs fp32; all int8: %s)%s, most sensitive first"
             % (baseline.samples, baseline.figures(), "" if seconds is None else " in %.1f s" % seconds),
             "%-4s %-32s %-30s %-30s" % ("#", "layer", "float alone: per-step, cosine", "int8 alone: per-step, cosine")]
    for i, name in enumerate(order, 1):
        entry = found[name]
        cells = ["%.2f%% %.6f" % (100 * t.fine, t.cosine) if t is not None else "-"
                 for t in (entry.float_one, entry.quantize_one)]
        lines.append("%-4d %-32s %-30s %-30s" % (i, name, cells[0], cells[1]))
    return "\n".join(lines)


from ncnnlike.quant.mixed import (MixedResult, auto_mixed, best_mixed, format_mixed, mixed_dict,  # noqa: E402,F401
                                  mixed_table_text)
