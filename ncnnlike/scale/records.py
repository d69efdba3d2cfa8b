"""What a worker sends back per batch for model-compare and the trials, and its exact replay.

One process accumulates ErrorStats and OutputStats (quant/compare.py) batch after batch: float64
sums `total += float(ref @ test)`, a running max, and for outputs one cosine per sample added in
turn. Floating-point addition is not associative, so partial sums per shard, added up later, would
differ from one process in the last bits. Instead each worker measures every batch alone (a fresh
ErrorStats per batch holds exactly the terms one process adds, and the per-sample cosines are kept
one by one), and the driver adds those terms in list order: the same additions in the same order,
hence the same figures and the same report, bit for bit.
"""
from collections import OrderedDict
from dataclasses import dataclass, field, fields

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.compare import ErrorStats, OutputStats


# How each field of a fresh per-batch ErrorStats / OutputStats joins the running one, so that the
# result is what update() would have made: every field must be listed (a new field is an error
# here until its rule is added, never a silent difference).
ERROR_RULES = {"dot": "add", "ref2": "add", "test2": "add", "err2": "add", "max_abs": "max", "count": "add"}
OUTPUT_RULES = {"error": "error", "cos_sum": "cosines", "cos_min": "min", "agree": "add", "samples": "add",
                "kind": "first", "step_agree": "add", "steps": "add"}


@dataclass
class OutputTerms:
    """One output over one batch: its OutputStats alone, and each sample's cosine alone."""
    stats: OutputStats
    cosines: list


@dataclass
class BatchRecord:
    """One batch: per-output OutputTerms, per-layer ErrorStats alone, and the fp32 outputs (kept by
    the driver as one process keeps them)."""
    outputs: OrderedDict
    layers: OrderedDict = field(default_factory=OrderedDict)
    reference: dict = None


def error_terms(ref, test):
    """ErrorStats of one batch alone (its fields are the terms one process adds)."""
    stats = ErrorStats()
    stats.update(ref, test)
    return stats


def sample_cosines(ref, test):
    """Each sample's cosine alone, as OutputStats computes it (one process adds them one by one)."""
    cosines = []
    for i in range(len(ref)):
        one = OutputStats()
        one.update(ref[i:i + 1], test[i:i + 1])
        cosines.append(one.cos_sum)
    return cosines


def output_terms(ref, test):
    """OutputTerms of one batch, measured by OutputStats itself."""
    whole = OutputStats()
    whole.update(ref, test)
    return OutputTerms(whole, sample_cosines(ref, test))


def _join(total, part, rules, cosines=None):
    for f in fields(total):
        rule = rules.get(f.name)
        old, new = getattr(total, f.name), getattr(part, f.name)
        if rule == "add":
            setattr(total, f.name, old + new)
        elif rule == "max":
            setattr(total, f.name, max(old, new))
        elif rule == "min":
            setattr(total, f.name, min(old, new))
        elif rule == "first":
            setattr(total, f.name, old if old is not None else new)
        elif rule == "error":
            add_error(old, new)
        elif rule == "cosines":
            for c in cosines:
                old += c
            setattr(total, f.name, old)
        else:
            raise NcnnlikeError("scale/records.py cannot replay %s.%s: add its rule"
                                % (type(total).__name__, f.name))
    return total


def add_error(total, part):
    """total.update(ref, test) replayed from part = error_terms(ref, test)."""
    return _join(total, part, ERROR_RULES)


def add_output(total, terms):
    """total.update(ref, test) replayed from terms = output_terms(ref, test)."""
    return _join(total, terms.stats, OUTPUT_RULES, terms.cosines)


def replay_outputs(records, names):
    """OrderedDict output -> OutputStats over BatchRecords in list order (as output_agreement)."""
    stats = OrderedDict((name, OutputStats()) for name in names)
    for record in records:
        for name in names:
            add_output(stats[name], record.outputs[name])
    return stats
