"""model-compare's measurements: per-layer output error fp32 vs int8, and network-output agreement.

A quantized layer is judged by its top blob: the same blob is extracted from the fp32 model and from
the int8 model, over every sample, and compared (cosine, SNR in dB, max abs error), accumulated in
float64 so the figures do not depend on the batch size. A requantized top (int8_scale_term > 100,
spec 6.5) is int8-valued when extracted (spec 8 "Extracting an int8 blob": a value cast, no scale),
so it is compared after dividing by the layer's top scale. Network outputs are compared per sample:
mean and min cosine, SNR, and the agreement that fits the output (OutputStats): top-1 for class
scores, per-step argmax and decoded (CTC) sequences for a (T, C) sequence output.
"""
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.convert import quantized_layers
from ncnnlike.quant.images import iter_batches

REQUANTIZE = 100
INT8_SCALE_TERM = 8
REQUANTIZED_NOTE = ("requantized int8 tops (int8_scale_term > 100) are compared as extracted value / "
                    "top_blob_int8_scale")
DEFAULT_CACHE_BYTES = 1 << 30


def json_number(value):
    """A float for JSON: finite values as they are, inf/-inf as the strings "inf"/"-inf" (strict JSON)."""
    value = float(value)
    return value if np.isfinite(value) else ("inf" if value > 0 else "-inf" if value < 0 else "nan")


def snr_db(signal2, error2):
    """10*log10(signal energy / error energy); inf when there is no error, -inf when no signal."""
    if error2 == 0:
        return float("inf")
    if signal2 == 0:
        return float("-inf")
    return float(10.0 * np.log10(signal2 / error2))


def cosine(dot, ref2, test2):
    """Cosine from accumulated sums; two all-zero tensors are identical (1.0), one all-zero is 0.0."""
    if ref2 == 0 and test2 == 0:
        return 1.0
    if ref2 == 0 or test2 == 0:
        return 0.0
    return float(dot / np.sqrt(ref2 * test2))


@dataclass
class ErrorStats:
    """Streaming error of one tensor: sums over all samples and elements (float64), and max abs error."""
    dot: float = 0.0
    ref2: float = 0.0
    test2: float = 0.0
    err2: float = 0.0
    max_abs: float = 0.0
    count: int = 0

    def update(self, ref, test):
        ref = np.asarray(ref, np.float64).reshape(-1)
        test = np.asarray(test, np.float64).reshape(-1)
        if ref.shape != test.shape:
            raise NcnnlikeError("cannot compare tensors of %d and %d elements" % (ref.size, test.size))
        diff = test - ref
        self.dot += float(ref @ test)
        self.ref2 += float(ref @ ref)
        self.test2 += float(test @ test)
        self.err2 += float(diff @ diff)
        self.max_abs = max(self.max_abs, float(np.abs(diff).max(initial=0.0)))
        self.count += ref.size

    @property
    def cosine(self):
        return cosine(self.dot, self.ref2, self.test2)

    @property
    def snr_db(self):
        return snr_db(self.ref2, self.err2)

    def as_dict(self):
        return {"cosine": self.cosine, "snr_db": json_number(self.snr_db), "max_abs_error": self.max_abs}


def output_kind(sample_shape):
    """How an output is read, from its ncnn shape without size-1 axes: 'vector' (class scores: the
    top-1), 'sequence' (T, C): per step scores, e.g. CTC probabilities: argmax per step, then
    decoded), or 'map' (scores over axis 0 at each position, e.g. segmentation)."""
    dims = [d for d in sample_shape if d != 1]
    if len(dims) <= 1:
        return "vector"
    return "sequence" if len(dims) == 2 else "map"


def ctc_decode(steps, blank=0):
    """Greedy CTC: merge repeated classes, drop the blank (class 0 in PaddleOCR and most CTC heads)."""
    steps = np.asarray(steps).reshape(-1)
    if steps.size == 0:
        return ()
    keep = np.concatenate([[True], steps[1:] != steps[:-1]]) & (steps != blank)
    return tuple(steps[keep].tolist())


@dataclass
class OutputStats:
    """Agreement of one network output with the fp32 one: per-sample cosine (mean, min), overall SNR,
    and the task proxy the output's kind calls for (output_kind): for a vector, top-1 agreement; for
    a sequence (T, C), per-step argmax agreement and decoded-sequence agreement (greedy CTC, blank 0);
    for a map, per-position argmax agreement over axis 0. `agree` counts samples whose top-1 /
    decoded sequence / whole argmax map equals the fp32 one; `step_agree` of `steps` counts steps
    or positions (for a vector, samples)."""
    error: ErrorStats = field(default_factory=ErrorStats)
    cos_sum: float = 0.0
    cos_min: float = 1.0
    agree: int = 0
    samples: int = 0
    kind: str = None
    step_agree: int = 0
    steps: int = 0

    def update(self, ref, test):
        ref, test = np.asarray(ref), np.asarray(test)
        if self.kind is None:
            self.kind = output_kind(ref.shape[1:])
        flat_ref = np.asarray(ref, np.float64).reshape(len(ref), -1)
        flat_test = np.asarray(test, np.float64).reshape(len(test), -1)
        self.error.update(flat_ref, flat_test)
        for r, t in zip(flat_ref, flat_test):
            c = cosine(float(r @ t), float(r @ r), float(t @ t))
            self.cos_sum += c
            self.cos_min = min(self.cos_min, c)
        self._update_argmax(ref, test)
        self.samples += len(ref)

    def _update_argmax(self, ref, test):
        n = len(ref)
        if self.kind == "vector":
            same = ref.reshape(n, -1).argmax(axis=1) == test.reshape(n, -1).argmax(axis=1)
            self.agree += int(same.sum())
            self.step_agree += int(same.sum())
            self.steps += n
            return
        if self.kind == "sequence":
            dims = [d for d in ref.shape[1:] if d != 1]
            a, b = ref.reshape(n, *dims).argmax(axis=2), test.reshape(n, *dims).argmax(axis=2)
            self.agree += sum(ctc_decode(x) == ctc_decode(y) for x, y in zip(a, b))
        else:
            a, b = ref.argmax(axis=1).reshape(n, -1), test.argmax(axis=1).reshape(n, -1)
            self.agree += int(np.all(a == b, axis=1).sum())
        self.step_agree += int((a == b).sum())
        self.steps += int(a.size)

    @property
    def cosine(self):
        """Mean per-sample cosine."""
        return self.cos_sum / self.samples if self.samples else 1.0

    @property
    def agreement(self):
        """The task proxy: top-1 agreement (vector), decoded-sequence agreement (sequence), whole-map
        argmax agreement (map)."""
        return self.agree / self.samples if self.samples else 1.0

    @property
    def top1_agreement(self):
        """Same as agreement (for a vector, the top-1 agreement)."""
        return self.agreement

    @property
    def step_agreement(self):
        """Per-step (sequence) / per-position (map) argmax agreement; top-1 agreement for a vector:
        finer than `agreement`, used to rank layers."""
        return self.step_agree / self.steps if self.steps else 1.0

    def proxy_text(self):
        """The agreement figures in words, for reports."""
        if self.kind == "sequence":
            return ("per-step argmax agreement %.2f%%, decoded-sequence agreement (CTC, blank 0) %.2f%%"
                    % (100 * self.step_agreement, 100 * self.agreement))
        if self.kind == "map":
            return ("per-position argmax agreement %.2f%%, whole-map agreement %.2f%%"
                    % (100 * self.step_agreement, 100 * self.agreement))
        return "top-1 agreement %.2f%%" % (100 * self.agreement)

    def as_dict(self):
        entry = {"kind": self.kind or "vector", "cosine_mean": self.cosine, "cosine_min": self.cos_min,
                 "agreement": self.agreement, "snr_db": json_number(self.error.snr_db),
                 "max_abs_error": self.error.max_abs, "samples": self.samples}
        if self.kind in ("sequence", "map"):
            entry["step_agreement"] = self.step_agreement
        else:
            entry["top1_agreement"] = self.agreement
        return entry


def output_score(outputs):
    """The worst output's mean per-sample cosine."""
    return min(stats.cosine for stats in outputs.values())


def proxy_score(outputs):
    """The worst output's task-proxy agreement (output_kind)."""
    return min(stats.agreement for stats in outputs.values())


def fine_score(outputs):
    """The worst output's per-step / per-position / top-1 agreement: the finer proxy for rankings."""
    return min(stats.step_agreement for stats in outputs.values())


@dataclass
class Probe:
    """What to compare for one quantized layer: its top blob, and 1/top scale when requantized."""
    layer: str
    type: str
    blob: str
    top_scale: float = None


def probes(fp_graph, int8_graph):
    """OrderedDict layer -> Probe for every quantized layer of the int8 model, in param order."""
    found = OrderedDict()
    fp_names = {layer.name: layer for layer in fp_graph}
    for name in quantized_layers(int8_graph):
        layer = int8_graph.layer(name)
        fp_layer = fp_names.get(name)
        if fp_layer is None or fp_layer.type != layer.type or fp_layer.tops[:1] != layer.tops[:1]:
            raise NcnnlikeError("int8 layer %s (%s) has no matching layer in the fp32 model: the two models "
                                "must come from the same float model" % (name, layer.type))
        scale = None
        if layer.params.get(INT8_SCALE_TERM, 0) > REQUANTIZE and "top_blob_int8_scales" in layer.weights:
            scale = float(np.asarray(layer.weights["top_blob_int8_scales"], np.float32).reshape(-1)[0])
        found[name] = Probe(name, layer.type, layer.tops[0], scale)
    return found


def check_outputs(fp_graph, int8_graph):
    """The fp32 model's output blobs, which the int8 model must also produce."""
    outputs = fp_graph.output_names()
    missing = [o for o in outputs if o not in int8_graph.output_names()]
    if missing:
        raise NcnnlikeError("output blob '%s' of the fp32 model is not an output of the int8 model" % missing[0])
    return outputs


class Samples:
    """The compared samples as input batches: decoded once and kept in memory while they fit in
    `cache_bytes` (so repeated passes, as in automatic mixed precision, do not decode again)."""

    def __init__(self, lists, preprocess, batch_size=8, threads=1, cache_bytes=DEFAULT_CACHE_BYTES):
        self.lists, self.preprocess = lists, preprocess
        self.batch_size, self.threads, self.cache_bytes = batch_size, threads, cache_bytes
        self._cache = None
        self.count = len(lists[0])

    def __iter__(self):
        if self._cache is not None:
            yield from self._cache
            return
        cache, size = [], 0
        for batch in iter_batches(self.lists, self.preprocess, self.batch_size, self.threads):
            size += sum(a.nbytes for a in batch.values())
            cache = cache if cache is not None and size <= self.cache_bytes else None
            if cache is not None:
                cache.append(batch)
            yield batch
        self._cache = cache


class FirstBatches:
    """The first `count` batches of a re-iterable of batches, itself re-iterable (a ranking subset)."""

    def __init__(self, batches, count):
        self.batches, self.count = batches, count

    def __iter__(self):
        return itertools.islice(iter(self.batches), self.count)


def subset(batches, reference, samples):
    """(batches, reference) cut to the fewest leading batches holding at least `samples` samples."""
    total, count = 0, 0
    for ref in reference:
        if total >= samples:
            break
        total += len(next(iter(ref.values())))
        count += 1
    return FirstBatches(batches, count), reference[:count]


@dataclass
class Comparison:
    """Result of one fp32-vs-int8 pass: per-layer errors, per-output agreement, cached fp32 outputs."""
    layers: OrderedDict
    probes: OrderedDict
    outputs: OrderedDict
    reference: list
    samples: int

    def worst_first(self):
        """Layer names ordered by SNR, lowest (worst) first; ties keep param order."""
        return sorted(self.layers, key=lambda name: self.layers[name].snr_db)


def _batch_len(batch):
    return len(next(iter(batch.values())))


def compare_models(fp_net, int8_net, batches, keep_reference=True):
    """Run both nets over `batches` ({input: (N, ...)}) and measure every quantized layer and output.

    `fp_net` runs with use_int8_inference off, `int8_net` with ncnn's int8 arithmetic ("sim",
    batched). The fp32 outputs are kept (small: network outputs only) so later passes need no
    second fp32 run."""
    fp_net.opt.use_int8_inference = False
    int8_net.opt.use_int8_inference = "sim"
    found = probes(fp_net.graph, int8_net.graph)
    outputs = check_outputs(fp_net.graph, int8_net.graph)
    blobs = list(dict.fromkeys([p.blob for p in found.values()] + outputs))
    layers = OrderedDict((name, ErrorStats()) for name in found)
    out_stats = OrderedDict((name, OutputStats()) for name in outputs)
    reference, samples = [], 0
    for batch in batches:
        ref = fp_net.run(batch, blobs)
        test = int8_net.run(batch, blobs)
        for name, probe in found.items():
            value = test[probe.blob]
            layers[name].update(ref[probe.blob], value / probe.top_scale if probe.top_scale else value)
        for name in outputs:
            out_stats[name].update(ref[name], test[name])
        if keep_reference:
            reference.append({name: ref[name] for name in outputs})
        samples += _batch_len(batch)
    if samples == 0:
        raise NcnnlikeError("no samples to compare")
    return Comparison(layers, found, out_stats, reference, samples)


def reference_outputs(fp_net, batches):
    """The fp32 network outputs for every batch (the one fp32 pass later trials compare against)."""
    fp_net.opt.use_int8_inference = False
    outputs = fp_net.graph.output_names()
    return [fp_net.run(batch, outputs) for batch in batches]


def output_agreement(int8_net, batches, reference):
    """OrderedDict output -> OutputStats of `int8_net` (in the int8 mode its options say) against
    cached fp32 outputs, batch by batch."""
    names = list(reference[0]) if reference else int8_net.graph.output_names()
    stats = OrderedDict((name, OutputStats()) for name in names)
    count = 0
    for batch, ref in zip(batches, reference):
        test = int8_net.run(batch, names)
        for name in names:
            stats[name].update(ref[name], test[name])
        count += 1
    if count != len(reference):
        raise NcnnlikeError("the samples gave %d batches, the cached fp32 outputs %d" % (count, len(reference)))
    return stats


def comparison_dict(comparison):
    """The JSON form: layers worst first, outputs, and how requantized blobs were compared."""
    layers = []
    for name in comparison.worst_first():
        probe = comparison.probes[name]
        entry = {"layer": name, "type": probe.type, "blob": probe.blob, "requantized": probe.top_scale is not None}
        entry.update(comparison.layers[name].as_dict())
        layers.append(entry)
    return {"samples": comparison.samples, "note": REQUANTIZED_NOTE, "layers": layers,
            "outputs": OrderedDict((name, s.as_dict()) for name, s in comparison.outputs.items())}


def format_comparison(comparison):
    """The printed report: one line per quantized layer (worst first), then one per network output."""
    lines = ["per-layer error, fp32 vs int8, %d samples, worst first (%s)" % (comparison.samples, REQUANTIZED_NOTE),
             "%-4s %-32s %-22s %10s %9s %12s" % ("#", "layer", "type", "cosine", "SNR dB", "max abs err")]
    for rank, name in enumerate(comparison.worst_first(), 1):
        s = comparison.layers[name]
        kind = comparison.probes[name].type + ("*" if comparison.probes[name].top_scale else "")
        lines.append("%-4d %-32s %-22s %10.6f %9.2f %12.6g" % (rank, name, kind, s.cosine, s.snr_db, s.max_abs))
    if not comparison.layers:
        lines.append("(the int8 model has no quantized layer)")
    lines.append("(* = requantized top, compared after dividing by its top scale)")
    lines.append("network outputs:")
    for name, s in comparison.outputs.items():
        lines.append("%-20s cosine mean %.6f min %.6f  %s  SNR %.2f dB"
                     % (name, s.cosine, s.cos_min, s.proxy_text(), s.error.snr_db))
    return "\n".join(lines)
