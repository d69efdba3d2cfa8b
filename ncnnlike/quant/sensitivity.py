"""Per-layer sensitivity and automatic mixed precision over one fp32 pass (DESIGN: quant/sensitivity.py).

A trial converts the float graph with a subset of the table in memory (quant/convert.py; a layer
whose activation line is dropped stays float, our table semantics) and measures the network
outputs against the cached fp32 outputs: no file is written and the fp32 model runs once.

Sensitivity of a layer, two ways: `quantize_one` (only that layer int8: the damage it does alone)
and `float_one` (every other layer int8, that one float: the gain of keeping it float, measured in
the real int8 context). Automatic mixed precision takes the ranking, gallops over prefixes of
1, 2, 4, ... layers kept float (each a full-model measurement) until the target is met, bisects
to the shortest such prefix, then tries to requantize each kept layer (least sensitive first, at
most PRUNE_LIMIT of them) so that only layers the target needs stay float. Trials: one per layer
for the ranking, then about 2*log2(k) + min(k, PRUNE_LIMIT) for k layers kept float.

Trials may run in the runtime's "fast" int8 mode (onnxruntime integer kernels: ~10x quicker per run than the
exact simulation, +-1 on a few requantized values). The answer is then confirmed in the exact mode
(what ncnn computes): if the exact figures miss the target, the next ranked layers are kept float
until they meet it, so the written table is judged by ncnn's arithmetic, not the fast kernels'.
"""
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import output_agreement, output_score
from ncnnlike.quant.convert import quantize_graph
from ncnnlike.quant.table_semantics import apply_table
from ncnnlike.quant.tablefile import Table
from ncnnlike.runtime import Net

MODES = ("float_one", "quantize_one")
PRUNE_LIMIT = 8   # kept layers (least sensitive first) tried for requantization: one trial each


def table_without(table, float_layers):
    """A copy of `table` whose activation lines of `float_layers` are dropped (those layers stay float)."""
    blobs = OrderedDict((k, v) for k, v in table.blobs.items() if k not in float_layers)
    return Table(table.path, table.weights, blobs)


@dataclass
class Trial:
    """One measured configuration: the layers kept float and the output agreement it gives."""
    float_layers: frozenset
    outputs: OrderedDict

    @property
    def score(self):
        return output_score(self.outputs)

    @property
    def top1_agreement(self):
        return min(s.top1_agreement for s in self.outputs.values())

    @property
    def samples(self):
        return next(iter(self.outputs.values())).samples


class Trials:
    """Measures configurations of one float graph + table against cached fp32 outputs; memoized."""

    def __init__(self, graph, table, batches, reference, threads=1, int8=True):
        self.graph, self.table, self.batches, self.reference = graph, table, batches, reference
        self.threads, self.int8 = threads, int8
        plan = apply_table(graph, table)
        self.candidates = list(plan.conv)
        if not self.candidates:
            raise NcnnlikeError("table %s quantizes no Convolution, ConvolutionDepthWise or InnerProduct layer "
                                "of the model" % table.path)
        self._done = {}
        self.runs = 0
        self.seconds = 0.0

    def measure(self, float_layers):
        """Trial with `float_layers` kept float and every other candidate int8 (cached by the set)."""
        key = frozenset(float_layers)
        unknown = key - set(self.candidates)
        if unknown:
            raise NcnnlikeError("layer %s is not quantized by table %s" % (sorted(unknown)[0], self.table.path))
        if key not in self._done:
            start = time.perf_counter()
            quantized, _ = quantize_graph(self.graph, table_without(self.table, key))
            net = Net.from_graph(quantized)
            net.opt.num_threads, net.opt.use_int8_inference = self.threads, self.int8
            self._done[key] = Trial(key, output_agreement(net, self.batches, self.reference))
            self.runs += 1
            self.seconds += time.perf_counter() - start
        return self._done[key]

    def all_int8(self):
        return self.measure(())

    def only_int8(self, name):
        return self.measure(set(self.candidates) - {name})


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
                entry[mode] = {"output_cosine": trial.score, "top1_agreement": trial.top1_agreement}
        return entry


def sensitivity(trials, modes=("float_one",), progress=None):
    """OrderedDict layer -> Sensitivity over every candidate, measuring the requested modes."""
    for mode in modes:
        if mode not in MODES:
            raise NcnnlikeError("unknown sensitivity mode '%s' (expected %s)" % (mode, " or ".join(MODES)))
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


def ranking(found, mode="float_one"):
    """Layer names, most sensitive first: largest output cosine when kept float alone (float_one),
    or lowest output cosine when quantized alone (quantize_one); ties keep param order."""
    if mode == "float_one":
        return sorted(found, key=lambda name: -found[name].float_one.score)
    if mode == "quantize_one":
        return sorted(found, key=lambda name: found[name].quantize_one.score)
    raise NcnnlikeError("unknown sensitivity mode '%s' (expected %s)" % (mode, " or ".join(MODES)))


@dataclass
class MixedResult:
    """Outcome of automatic mixed precision: layers kept float, before/after trials, the search log."""
    target: float
    float_layers: list
    before: Trial
    after: Trial
    met: bool
    steps: list = field(default_factory=list)
    ranking: str = None     # the sensitivity mode whose ranking was searched (best_mixed sets it)


def _prefix_search(trials, order, target, steps):
    """Shortest prefix of `order` whose float set meets `target`: gallop 1, 2, 4, ... then bisect."""
    def meets(k):
        trial = trials.measure(order[:k])
        steps.append((k, trial.score))
        return trial.score >= target

    low, high = 0, 1
    while high < len(order) and not meets(high):
        low, high = high, min(2 * high, len(order))
    if high == len(order) and not meets(high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def _prune(trials, kept, target, steps):
    """Requantize each kept layer, least sensitive first (at most PRUNE_LIMIT tries), when the target
    still holds without it."""
    kept = list(kept)
    for name in list(reversed(kept))[:PRUNE_LIMIT]:
        trial = trials.measure(set(kept) - {name})
        steps.append(("requantize " + name, trial.score))
        if trial.score >= target:
            kept.remove(name)
    return kept


def _confirm(verify, order, kept, target, steps):
    """(kept, trial) measured by `verify`: the next ranked layers join `kept` until the target holds."""
    kept = list(kept)
    trial = verify.measure(kept)
    steps.append(("confirm %d float" % len(kept), trial.score))
    for name in [n for n in order if n not in kept]:
        if trial.score >= target:
            break
        kept.append(name)
        trial = verify.measure(kept)
        steps.append(("confirm: also keep " + name, trial.score))
    return kept, trial


def auto_mixed(trials, order, target, verify=None):
    """The fewest layers (by greedy ranked prefixes + pruning) to keep float so the int8 model's
    output cosine on the samples is >= target; `met` is False when even all-float misses it.
    With `verify` (Trials in the exact mode on the same samples) the search runs on `trials` and
    the answer and the before/after figures are the exact mode's."""
    if not 0 < target <= 1:
        raise NcnnlikeError("target=%s: expected an output cosine in (0, 1]" % target)
    judge = verify or trials
    before = judge.all_int8()
    steps = [(0, before.score)]
    if before.score >= target:
        return MixedResult(target, [], before, before, True, steps)
    k = _prefix_search(trials, list(order), target, steps)
    kept = list(order) if k is None else _prune(trials, list(order[:k]), target, steps)
    kept, after = _confirm(judge, order, kept, target, steps)
    return MixedResult(target, [n for n in trials.candidates if n in kept], before, after, after.score >= target,
                       steps)


def best_mixed(trials, found, modes, target, verify=None):
    """(result, order) of auto_mixed over the ranking of each measured mode, the one keeping the
    fewest layers float (met first, then higher cosine). float_one finds a few bad layers in a good
    table (Lite0 kl: 3 of 50); quantize_one ranks better when the error is spread over every layer
    (Lite0 aciq: 8 of 50 where float_one needs 33). Trials are memoized, so the second search
    mostly reuses the first's."""
    best = None
    for mode in modes:
        order = ranking(found, mode)
        result = auto_mixed(trials, order, target, verify)
        result.ranking = mode
        key = (not result.met, len(result.float_layers), -result.after.score)
        if best is None or key < best[0]:
            best = (key, result, order)
    return best[1], best[2]


def mixed_dict(result, found):
    """JSON form of a MixedResult with each kept layer's own measured effect."""
    def figures(trial):
        return {"output_cosine": trial.score, "top1_agreement": trial.top1_agreement,
                "float_layers": sorted(trial.float_layers)}
    return {"target": result.target, "met": result.met, "float_layers": result.float_layers, "ranking": result.ranking,
            "before": figures(result.before), "after": figures(result.after),
            "search": [{"step": step if isinstance(step, str) else "keep first %d float" % step, "output_cosine": score}
                       for step, score in result.steps],
            "kept": [found[name].as_dict() for name in result.float_layers if name in found]}


def _effect(entry):
    """'float alone lifts output cosine A -> B; int8 alone gives C' from the measured trials."""
    parts = []
    if entry is not None and entry.float_one is not None:
        parts.append("float alone lifts output cosine %.6f -> %.6f on %d samples"
                     % (entry.baseline.score, entry.float_one.score, entry.baseline.samples))
    if entry is not None and entry.quantize_one is not None:
        parts.append("int8 alone gives %.6f" % entry.quantize_one.score)
    return "; ".join(parts) or "needed to meet the target"


def mixed_table_text(text, table, result, found, order, samples):
    """The table text with the activation line of each kept-float layer commented out, a `#` comment
    on it (rank and measured effect) and a header line. Only the activation line is commented, the
    one switch that keeps just that layer float in both our model2int8 and ncnn2int8 (spec 6.3)."""
    lines = text.splitlines(keepends=True)
    rank = {name: i + 1 for i, name in enumerate(order)}
    for name in result.float_layers:
        index = table.blobs[name].line - 1
        body = lines[index].rstrip("\r\n")
        ending = lines[index][len(body):] or "\n"
        lines[index] = "#%s # model-compare: kept float (sensitivity rank %d of %d): %s%s" % (
            body, rank.get(name, 0), len(order), _effect(found.get(name)), ending)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    header = ("# model-compare automatic mixed precision: %d of %d layers kept float for output cosine >= %g on "
              "%d samples: cosine %.6f -> %.6f, top-1 agreement %.2f%% -> %.2f%%%s\n"
              % (len(result.float_layers), len(order), result.target, samples, result.before.score,
                 result.after.score, 100 * result.before.top1_agreement, 100 * result.after.top1_agreement,
                 "" if result.met else " (target NOT met)"))
    return header + "".join(lines)


def format_sensitivity(found, order):
    """Printed ranking: one line per layer, most sensitive first, with both modes where measured."""
    baseline = found[order[0]].baseline
    lines = ["sensitivity on %d samples (network output cosine vs fp32; all int8: %.6f), most sensitive first"
             % (baseline.samples, baseline.score),
             "%-4s %-32s %16s %18s" % ("#", "layer", "float alone", "int8 alone")]
    for i, name in enumerate(order, 1):
        entry = found[name]
        cells = ["%.6f" % getattr(entry, mode).score if getattr(entry, mode) is not None else "-" for mode in MODES]
        lines.append("%-4d %-32s %16s %18s" % (i, name, cells[0], cells[1]))
    return "\n".join(lines)


def format_mixed(result, total):
    """Printed outcome of automatic mixed precision."""
    status = "met" if result.met else "NOT met (even with every candidate float)"
    names = " (%s)" % ", ".join(result.float_layers) if result.float_layers else ""
    return "\n".join([
        "automatic mixed precision: target output cosine %g %s" % (result.target, status),
        "layers kept float: %d of %d%s%s" % (len(result.float_layers), total, names,
                                             " [%s ranking]" % result.ranking if result.ranking else ""),
        "output cosine: %.6f -> %.6f" % (result.before.score, result.after.score),
        "top-1 agreement: %.2f%% -> %.2f%%" % (100 * result.before.top1_agreement, 100 * result.after.top1_agreement),
    ])
