"""target=auto: automatic mixed precision steered by the held-apart samples, for a model whose
all-int8 answer may already be as good as it gets.

An absolute target on the search samples cannot tell whether keeping a layer float helps new
inputs, nor how many layers it will take: on PP-OCRv4 rec (auto + bias; all-int8 94.33% exact
match on the 300 eval lines, fp32 94.00%) per-step agreement 0.99 on the 150 search lines keeps
11 of 47 layers float (0.995: 30); on Lite0 (auto + bias) top-1 agreement 0.99 keeps 2 float,
is met on the search images, and lowers the agreement on the 400 eval images from 99.75% to
99.00% (docs/int8-accuracy.md). Keeping a few layers float in an int8 network moves its outputs
too: the thresholds and corrections around them were chosen for int8 neighbours.

So target=auto grows the float set along the sensitivity ranking (1, 2, 4, ... layers, at most
MAX_FLOAT of the candidates) only while each step makes the argmax agreement with fp32 better on
the held-apart samples by more than their noise (real_gain: the count of differing decisions drops
by at least its square root, one Poisson deviation) and no worse on the search samples; it stops
at the first step that does not, then tries to requantize the kept layers, least sensitive first.
The answer is often "no layer": all-int8 is then the model to ship, and the report says so. A
small held-apart set sees only large gains (25 images with 2 differing decisions: a step must fix
both); validate= gives more. The held-apart samples steer the stop, so a figure nobody tuned on
must come from other inputs (tools/bench_mixed.py scores the answer on the evaluation set).
"""
import math

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.mixed import PRUNE_LIMIT, MixedResult

MAX_FLOAT = 0.10      # at most this fraction of the candidate layers kept float (at least one)


def float_limit(count, fraction=MAX_FLOAT):
    """The largest float set target=auto may keep among `count` candidates."""
    return max(1, int(math.ceil(fraction * count - 1e-9)))


def real_gain(before, after):
    """True when `after` differs from fp32 in fewer argmax decisions than `before` by more than
    noise: at least max(1, sqrt(misses before)) fewer (worst output)."""
    return before.misses - after.misses >= max(1.0, math.sqrt(before.misses))


def _better(trials, held, best, kept):
    """(search trial, held trial) of `kept` float when both beat `best` (held by real_gain, the
    search samples at least equal), else None. The held-apart samples are asked first: most steps
    end there, without a run over the search samples."""
    apart = held.measure(kept)
    if not real_gain(best[1], apart):
        return None
    search = trials.measure(kept)
    return (search, apart) if search.score >= (best[0] or trials.all_int8()).score else None


def _grow(trials, held, order, limit, steps):
    """(kept prefix, (search, held) trials of it): gallop 1, 2, 4, ... up to `limit` while each step
    is a real gain."""
    best, kept, k = (None, held.all_int8()), [], 1
    while k <= min(limit, len(order)):
        found = _better(trials, held, best, order[:k])
        steps.append(("held-apart: keep first %d float" % k, held.measure(order[:k]).score))
        if found is None:
            break
        kept, best = list(order[:k]), found
        if k == min(limit, len(order)):
            break
        k = min(2 * k, limit, len(order))
    return kept, best


def _prune(trials, held, kept, best, steps):
    """Requantize each kept layer (least sensitive first, at most PRUNE_LIMIT tries) when the held-apart
    and search figures are no worse without it."""
    for name in list(reversed(kept))[:PRUNE_LIMIT] if len(kept) > 1 else []:
        rest = [n for n in kept if n != name]
        search, apart = trials.measure(rest), held.measure(rest)
        steps.append(("held-apart: requantize " + name, apart.score))
        if apart.misses <= best[1].misses and search.score >= best[0].score:
            kept, best = rest, (search, apart)
    return kept


def grow_mixed(trials, order, held, verify=None, limit=None):
    """target=auto over one ranking (module docstring): a MixedResult with target None, its held-apart
    figures set; `verify` (ncnn's arithmetic on the search samples) gives the before/after figures."""
    if held is None:
        raise NcnnlikeError("target=auto needs held-apart samples (holdout=K >= 2 or validate=list.txt)")
    limit = float_limit(len(trials.candidates)) if limit is None else limit
    judge = verify or trials
    before = judge.all_int8()
    steps = [(0, before.score)]
    kept, best = _grow(trials, held, list(order), limit, steps)
    kept = _prune(trials, held, kept, best, steps)
    result = MixedResult(None, [n for n in trials.candidates if n in kept], before, judge.measure(kept), True, steps)
    result.held_before, result.held_after = held.all_int8(), held.measure(kept)
    return result


def best_grown(trials, found, modes, held, verify=None, limit=None):
    """(result, order) of grow_mixed over the ranking of each mode: the fewest differing decisions on
    the held-apart samples, then the fewer float layers."""
    from ncnnlike.quant.sensitivity import ranking
    best = None
    for mode in modes:
        order = ranking(found, mode)
        result = grow_mixed(trials, order, held, verify, limit)
        result.ranking = mode
        key = (result.held_after.misses, len(result.float_layers))
        if best is None or key < best[0]:
            best = (key, result, order)
    return best[1], best[2]
