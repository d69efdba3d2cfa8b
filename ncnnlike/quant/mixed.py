"""Automatic mixed precision: the fewest layers to keep float so that the int8 model meets a target
on the task proxy, searched on some samples and measured on samples held apart from them.

Given a sensitivity ranking (quant/sensitivity.py), the search gallops over prefixes of 1, 2, 4,
... layers kept float (each a whole-model trial, quant/trials.py) until the target is met on the
search samples, bisects to the shortest such prefix, then tries to requantize each kept layer
(least sensitive first, at most PRUNE_LIMIT of them). Trials run on the fast int8 kernels; the
answer is then confirmed in ncnn's arithmetic (`verify`, the runtime's "sim" mode): if it misses
the target there, the next ranked layers are kept float until it holds. A target met on the
images searched on says little about new ones (Lite0, 500 new images: a table tuned to cosine
0.995 on its own images read 87.2% where the plain table read 87.4%), so held_apart() measures
the all-int8 and the mixed model on samples the search never saw, and the reports give that figure.
model-compare's default, target=auto, lets those samples decide the stop instead (quant/mixed_auto.py).
"""
from dataclasses import dataclass, field

from ncnnlike.errors import NcnnlikeError

PRUNE_LIMIT = 4   # kept layers (least sensitive first) tried for requantization: one trial each


@dataclass
class MixedResult:
    """Outcome of automatic mixed precision: layers kept float, before/after trials on the search
    samples (in the verify mode), the search log, and the held-apart trials (held_apart())."""
    target: float
    float_layers: list
    before: object
    after: object
    met: bool
    steps: list = field(default_factory=list)
    ranking: str = None     # the sensitivity mode whose ranking was searched (best_mixed sets it)
    held_before: object = None
    held_after: object = None


def _prefix_search(trials, order, target, steps, limit=None):
    """Shortest prefix of `order` whose float set meets `target`: gallop 1, 2, 4, ... then bisect;
    None when even the whole order (or, with `limit`, its first `limit` layers) misses it."""
    def meets(k):
        trial = trials.measure(order[:k])
        steps.append((k, trial.score))
        return trial.score >= target

    end = len(order) if limit is None else min(limit, len(order))
    if end < 1:
        return None
    low, high = 0, 1
    while high < end and not meets(high):
        low, high = high, min(2 * high, end)
    if high == end and not meets(high):
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


def auto_mixed(trials, order, target, verify=None, limit=None):
    """The fewest layers (by greedy ranked prefixes + pruning) to keep float so that the int8 model's
    score (trials' metric) on the search samples is >= target; `met` is False when even all-float
    misses it. With `verify` (Trials in ncnn's arithmetic on the same samples) the search runs on
    `trials` and the answer and the before/after figures are the verify mode's. With `limit`, only
    prefixes of up to `limit` layers are searched, and None is returned when none meets the target."""
    if not 0 < target <= 1:
        raise NcnnlikeError("target=%s: expected a value in (0, 1]" % target)
    judge = verify or trials
    before = judge.all_int8()
    steps = [(0, before.score)]
    if before.score >= target:
        return MixedResult(target, [], before, before, True, steps)
    k = _prefix_search(trials, list(order), target, steps, limit)
    if k is None and limit is not None:
        return None
    kept = list(order) if k is None else _prune(trials, list(order[:k]), target, steps)
    kept, after = _confirm(judge, order, kept, target, steps)
    return MixedResult(target, [n for n in trials.candidates if n in kept], before, after, after.score >= target,
                       steps)


def best_mixed(trials, found, modes, target, verify=None):
    """(result, order) of auto_mixed over the ranking of each measured mode, the one keeping the
    fewest layers float (met first, then the higher score). float_one finds a few bad layers in a
    good table (Lite0 kl: 3 of 50); quantize_one ranks better when the error is spread over every
    layer (Lite0 aciq). Trials are memoized, and a later ranking is searched only for answers with
    fewer float layers than the best so far."""
    from ncnnlike.quant.sensitivity import ranking
    best = None
    for mode in modes:
        order = ranking(found, mode)
        limit = len(best[1].float_layers) - 1 if best is not None and best[1].met else None
        result = auto_mixed(trials, order, target, verify, limit)
        if result is None:          # this ranking cannot beat the answer already found
            continue
        result.ranking = mode
        key = (not result.met, len(result.float_layers), -result.after.score)
        if best is None or key < best[0]:
            best = (key, result, order)
    return best[1], best[2]


def held_apart(result, held):
    """Measure the all-int8 and the mixed model on held-apart samples (`held`: Trials over them, in
    ncnn's arithmetic); the figures are stored on `result` and returned."""
    result.held_before = held.all_int8()
    result.held_after = held.measure(result.float_layers)
    return result


def _figures(trial):
    if trial is None:
        return None
    return {"score": trial.score, "agreement": trial.fine, "decoded_agreement": trial.agreement,
            "output_cosine": trial.cosine, "samples": trial.samples, "float_layers": sorted(trial.float_layers)}


def mixed_dict(result, found):
    """JSON form of a MixedResult with each kept layer's own measured effect."""
    target = "auto" if result.target is None else result.target
    return {"target": target, "met": result.met, "float_layers": result.float_layers, "ranking": result.ranking,
            "before": _figures(result.before), "after": _figures(result.after),
            "held_apart": {"before": _figures(result.held_before), "after": _figures(result.held_after)},
            "search": [{"step": step if isinstance(step, str) else "keep first %d float" % step, "score": score}
                       for step, score in result.steps],
            "kept": [found[name].as_dict() for name in result.float_layers if name in found]}


def _move(a, b, percent=False):
    """'A -> B (up)' with the direction as measured."""
    word = "up" if b > a else "down" if b < a else "unchanged"
    text = "%.2f%% -> %.2f%%" if percent else "%.6f -> %.6f"
    return (text % ((100 * a, 100 * b) if percent else (a, b))) + " (%s)" % word


def _proxy_name(trial):
    """What trial.fine is: the per-step (per-position) argmax agreement of a sequence (map), the
    top-1 agreement of class scores."""
    kinds = {stats.kind for stats in trial.outputs.values()}
    return "per-step agreement" if kinds & {"sequence", "map"} else "top-1 agreement"


def _effect(entry):
    """The measured effect of one kept-float layer, in words whose direction follows the figures
    ("up" only when the figure rose: keeping a layer float can lower the output cosine)."""
    parts = []
    if entry is not None and entry.float_one is not None:
        base, alone = entry.baseline, entry.float_one
        parts.append("float alone: %s %s, cosine %s on %d samples"
                     % (_proxy_name(base), _move(base.fine, alone.fine, True), _move(base.cosine, alone.cosine),
                        base.samples))
    if entry is not None and entry.quantize_one is not None:
        parts.append("int8 alone: %s %.2f%%, cosine %.6f"
                     % (_proxy_name(entry.quantize_one), 100 * entry.quantize_one.fine, entry.quantize_one.cosine))
    return "; ".join(parts) or "needed to meet the target"


def _comment(lines, number, note):
    index = number - 1
    body = lines[index].rstrip("\r\n")
    ending = lines[index][len(body):] or "\n"
    lines[index] = "#%s # model-compare: %s%s" % (body, note, ending)


def mixed_table_text(text, table, result, found, order, samples):
    """The table text with each kept-float layer's switch commented out (a conv layer's activation
    line, the one switch that keeps just that layer float in both our model2int8 and ncnn2int8,
    spec 6.3; a weight-only layer's `_param_N` lines), each with a `#` note (rank and measured
    effect), and a header line with the search and held-apart figures."""
    lines = text.splitlines(keepends=True)
    rank = {name: i + 1 for i, name in enumerate(order)}
    for name in result.float_layers:
        note = "kept float (sensitivity rank %d of %d): %s" % (rank.get(name, 0), len(order), _effect(found.get(name)))
        if name in table.blobs:
            _comment(lines, table.blobs[name].line, note)
        else:
            for line in table.weights.values():
                if line.key.rsplit("_param_", 1)[0] == name:
                    _comment(lines, line.line, note)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    return _header(result, len(order), samples) + "".join(lines)


def _goal(result):
    """'agreement >= 0.99', or what target=auto (quant/mixed_auto.py) looks for."""
    if result.target is None:
        return "target=auto (a real gain in argmax agreement on held-apart samples)"
    return "%s >= %g" % (result.before.metric, result.target)


def _header(result, total, samples):
    held = ""
    if result.held_after is not None:
        held = "; on %d held-apart samples: %s -> %s" % (
            result.held_after.samples, result.held_before.figures(), result.held_after.figures())
    return ("# model-compare automatic mixed precision: %d of %d layers kept float for %s on %d search "
            "samples: %s -> %s%s%s\n" % (len(result.float_layers), total, _goal(result), samples,
                                         result.before.figures(), result.after.figures(),
                                         "" if result.met else " (target NOT met)", held))


def format_mixed(result, total):
    """Printed outcome of automatic mixed precision."""
    status = "met" if result.met else "NOT met (even with every candidate float)"
    names = " (%s)" % ", ".join(result.float_layers) if result.float_layers else ""
    if result.target is None:
        head = ("automatic mixed precision: target=auto on %d search samples: %s"
                % (result.before.samples, _auto_outcome(result)))
    else:
        head = ("automatic mixed precision: target %s %g on %d search samples %s"
                % (result.before.metric, result.target, result.before.samples, status))
    lines = [
        head,
        "layers kept float: %d of %d%s%s" % (len(result.float_layers), total, names,
                                             " [%s ranking]" % result.ranking if result.ranking else ""),
        "search samples: all int8 %s -> mixed %s" % (result.before.figures(), result.after.figures()),
    ]
    if result.held_after is not None:
        role = "not searched on" if result.target is not None else "not searched on; they decided the stop"
        lines.append("held-apart samples (%d, %s): all int8 %s -> mixed %s"
                     % (result.held_after.samples, role, result.held_before.figures(), result.held_after.figures()))
    return "\n".join(lines)


def _auto_outcome(result):
    """target=auto in words: which float set made a real held-apart gain, or that none did."""
    if not result.float_layers:
        return "no float layer made a real gain on the held-apart samples: keep every layer int8"
    return "the float set with a real gain on the held-apart samples"
