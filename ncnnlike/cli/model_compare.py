"""model-compare: where int8 hurts, layer by layer, and which layers to keep float (DESIGN flow).

    model-compare fp.param fp.bin int8.param int8.bin list1[,list2,...] [key=value ...] [--json out.json]
                  [--plot out.png]

Runs both models on the samples (preprocessed as model2table does: mean norm shape pixel type) and
prints, for every quantized layer, the error of its top blob fp32 vs int8 (cosine, SNR dB, max abs
error; worst first), then the network outputs' cosine and the agreement that fits each output (top-1
for class scores; per-step argmax and decoded CTC sequence for a (T, C) sequence). With table= (the
table the int8 model was made from; adjust= its weights-adjustment file, if any) it also ranks the
layers by sensitivity (rank=float_one: the outputs when only that layer stays float; quantize_one:
when only that layer is int8; both, the default), judged by the task proxy first and the cosine
second, measured in one cached pass per mode on the first rank_images= samples (default 16;
quant/sensitivity.py). With out=mixed.table it writes the table with layers kept float (their lines
commented out). target=auto (the default) keeps a layer float only for a real gain in argmax
agreement with fp32 on samples held apart from the search, at most 10% of the layers, and often
none (quant/mixed_auto.py); target=<0..1> keeps the fewest layers so that the int8 model meets that
target on the search samples: metric=agreement (argmax agreement with fp32, top-1 or per step) or
metric=cosine (mean output cosine). Every holdout=K-th sample (default 4; 0: none) is held apart
from the search (or validate=list2.txt gives the held-apart samples) and the all-int8 and mixed
figures on it are reported and written in the table's header. search=fast (default) runs the
ranking and search trials on the fast int8 kernels and confirms the answer with ncnn's int8
arithmetic; search=exact runs every trial that way.
Other keys: thread= batch=, workers=N [ray_address=host:port] (the passes and the trials on N Ray
workers with thread= threads each: the same report; docs/scale-out.md).
Results go to stdout, progress to stderr; files are written only when everything succeeded.
"""
import json
import math
import os
import sys
import time

from ncnnlike.cli.common import check_keys, run_main, split_args, thread_option
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_batch
from ncnnlike.io.numbers import ascii_float, ascii_int

USAGE = ("usage: model-compare fp.param fp.bin int8.param int8.bin list.txt [mean=[..] norm=[..] shape=[..] "
         "pixel=.. type=0|1 thread=N batch=N table=model.table rank=float_one|quantize_one|both rank_images=N "
         "target=auto|<0..1> metric=agreement|cosine holdout=K validate=list.txt adjust=model.adjust out=mixed.table "
         "search=fast|exact workers=N ray_address=..] [--json out.json] [--plot out.png]")
KEYS = ("mean", "norm", "shape", "pixel", "type", "thread", "batch", "table", "rank", "rank_images", "target", "out",
        "search", "workers", "ray_address", "metric", "holdout", "validate", "adjust")
SEARCHES = {"fast": "fast", "exact": "sim"}   # search= -> the int8 mode the trials run in
VERIFY = "sim"          # ncnn's int8 arithmetic in our runtime: the answer is confirmed in it
HOLDOUT = 4             # every 4th sample is held apart from the search
FLAGS = ("--json", "--plot")
RANKS = ("float_one", "quantize_one", "both")
RANK_IMAGES = 16   # the ranking needs far fewer samples than the final check
AUTO = "auto"      # target=auto: grow the float set while the held-apart samples gain (quant/mixed_auto.py)


def parse_argv(argv):
    """(positionals, key=value options, {flag: path}); every mistake is one line."""
    flags, rest = {}, []
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if name in FLAGS:
            value = value if eq else next(args, None)
            if not value or value.startswith("-"):
                raise NcnnlikeError("%s needs a file name, e.g. %s out%s" % (name, name, name.replace("--", ".")))
            if name in flags:
                raise NcnnlikeError("%s given twice" % name)
            flags[name] = value
        elif arg.startswith("--"):
            raise NcnnlikeError("unknown flag '%s' (expected --json out.json or --plot out.png)" % arg)
        else:
            rest.append(arg)
    seen_option = False
    for arg in rest:
        if "=" in arg:
            seen_option = True
        elif seen_option:
            raise NcnnlikeError("positional argument '%s' after key=value options" % arg)
    positionals, options = split_args(rest, USAGE)
    check_keys(options, KEYS)
    if len(positionals) != 5:
        raise NcnnlikeError("expected 5 file arguments (fp.param fp.bin int8.param int8.bin list.txt), got %d"
                            % len(positionals))
    return positionals, options, flags


def _int_option(options, key, default):
    text = options.get(key, str(default))
    try:
        value = ascii_int(text)
    except ValueError:
        raise NcnnlikeError("%s=%s: expected a positive integer" % (key, text)) from None
    if value < 1:
        raise NcnnlikeError("%s=%s: expected a positive integer" % (key, text))
    return value


def check_mixed_options(options):
    """rank=, target=, search=, out= and the table= they need: (rank, target or None, search)."""
    rank = options.get("rank", "both")
    if rank not in RANKS:
        raise NcnnlikeError("rank=%s: expected one of %s" % (rank, ", ".join(RANKS)))
    search = options.get("search", "fast")
    if search not in SEARCHES:
        raise NcnnlikeError("search=%s: expected fast or exact" % search)
    for key, needs in (("rank", "table"), ("rank_images", "table"), ("target", "table"), ("out", "table"),
                       ("search", "table"), ("metric", "table"), ("holdout", "target"), ("validate", "target"),
                       ("adjust", "table")):
        if key in options and needs not in options and not (needs == "target" and "out" in options):
            raise NcnnlikeError("%s= needs %s= as well" % (key, needs))
    target = _target(options)
    if options.get("metric", "agreement") not in ("agreement", "cosine"):
        raise NcnnlikeError("metric=%s: expected agreement or cosine" % options["metric"])
    if target == AUTO and options.get("metric") == "cosine":
        raise NcnnlikeError("target=auto judges argmax agreement: use metric=agreement, or give target=<0..1>")
    if "holdout" in options and "validate" in options:
        raise NcnnlikeError("holdout= and validate= exclude each other")
    return rank, target, search


def _target(options):
    """target=: a value in (0, 1], "auto" (the default with out=), or None (no search)."""
    if "target" not in options and "out" not in options:
        return None
    text = options.get("target", AUTO)
    if text == AUTO:
        return AUTO
    try:
        target = ascii_float(text)
    except ValueError:
        target = math.nan
    if not 0 < target <= 1:
        raise NcnnlikeError("target=%s: expected auto or a value in (0, 1], e.g. target=0.99 (agreement with fp32)"
                            % text)
    return target


def split_holdout(lists, options):
    """(search lists, held-apart lists or None): every holdout=K-th sample held apart (K=0: none)."""
    text = options.get("holdout", str(HOLDOUT))
    try:
        k = ascii_int(text)
    except ValueError:
        k = -1
    if k < 0 or k == 1:
        raise NcnnlikeError("holdout=%s: expected 0 (none) or K >= 2 (every K-th sample held apart)" % text)
    if k == 0 or len(lists[0]) < 2 * k:
        return lists, None
    search = [[e for i, e in enumerate(entries) if i % k != k - 1] for entries in lists]
    held = [[e for i, e in enumerate(entries) if i % k == k - 1] for entries in lists]
    return search, held


def check_writable(paths, inputs=()):
    """Every output can be written and is none of the inputs, so a long run does not end in a
    failed write or overwrite what it read (io/atomic.py check_outputs)."""
    from ncnnlike.io.atomic import check_outputs
    check_outputs(paths, inputs)


def json_safe(value):
    """`value` with every nan or inf float as None (JSON has no NaN: a metric of an all-zero
    output is nan, and json.dumps(allow_nan=False) would fail on it)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return json_safe(value.item())
    return value


def read_text(path):
    try:
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise NcnnlikeError("cannot read table %s: %s" % (path, getattr(e, "strerror", None) or e)) from None


def _progress(label):
    def report(done, total):
        sys.stderr.write("\r%s: %d/%d" % (label, done, total) + ("\n" if done == total else ""))
        sys.stderr.flush()
    return report


def _rank(fp_graph, table, options, samples, comparison, threads, trials_type, adjust):
    """(trials, verify, found, modes): the search's Trials and the sensitivity ranking, one cached
    pass per mode here (quick_sensitivity); with `trials_type` (scale/trials.py) the search's
    whole-model trials run on the Ray workers, with the same figures."""
    from ncnnlike.quant.sensitivity import Trials, quick_sensitivity
    rank, _, search = check_mixed_options(options)
    rank_images = _int_option(options, "rank_images", RANK_IMAGES)
    mode, metric = SEARCHES[search], options.get("metric", "agreement")
    modes = ("float_one", "quantize_one") if rank == "both" else (rank,)
    make_trials = trials_type or Trials
    trials = make_trials(fp_graph, table, samples, comparison.reference, threads, mode, adjust, metric)
    verify = None if mode == VERIFY else make_trials(fp_graph, table, samples, comparison.reference, threads,
                                                     VERIFY, adjust, metric)
    found, _ = quick_sensitivity(trials, samples, modes, _progress("sensitivity"), rank_images)
    return trials, verify, found, modes


def _held_apart(fp_graph, table, held, threads, adjust, metric, remote=None):
    """Trials in ncnn's int8 arithmetic over the held-apart samples (one fp32 pass for them); on
    the Ray workers with `remote` (scale/comparison.py: the workers holding those samples)."""
    from ncnnlike.quant.compare import reference_outputs
    from ncnnlike.quant.sensitivity import Trials
    from ncnnlike.runtime import Net
    if remote is not None:
        return remote.trials(fp_graph, table, held, remote.reference(), threads, VERIFY, adjust, metric)
    net = Net.from_graph(fp_graph)
    net.opt.num_threads = threads
    return Trials(fp_graph, table, held, reference_outputs(net, held), threads, VERIFY, adjust, metric)


def mixed_precision(fp_graph, table, options, samples, comparison, threads, trials_type=None, held=None,
                    remote_held=None):
    """Sensitivity ranking, and automatic mixed precision when target= is given: (report, json, text).
    `trials_type` replaces sensitivity.Trials (scale/comparison.py: the trials on Ray workers);
    `held` (compare.Samples) are the held-apart samples the answer is measured on (by the Ray
    workers of `remote_held` when given)."""
    from ncnnlike.quant.adjustfile import read_adjust
    from ncnnlike.quant.mixed import held_apart
    from ncnnlike.quant.sensitivity import best_mixed, format_mixed, format_sensitivity, mixed_dict, mixed_table_text, \
        ranking
    _, target, _ = check_mixed_options(options)
    adjust = read_adjust(options["adjust"]) if "adjust" in options else None
    start = time.perf_counter()
    trials, verify, found, modes = _rank(fp_graph, table, options, samples, comparison, threads, trials_type, adjust)
    order = ranking(found, modes[-1])
    report = [format_sensitivity(found, order, time.perf_counter() - start)]
    data = {"sensitivity": [dict(found[name].as_dict(), rank=i + 1) for i, name in enumerate(order)]}
    table_text = None
    if target is not None:
        held_trials = None if held is None else _held_apart(fp_graph, table, held, threads, adjust,
                                                            options.get("metric", "agreement"), remote_held)
        if target == AUTO:
            from ncnnlike.quant.mixed_auto import best_grown
            result, order = best_grown(trials, found, modes, held_trials, verify)
        else:
            result, order = best_mixed(trials, found, modes, target, verify)
            if held_trials is not None:
                held_apart(result, held_trials)
        report.append(format_mixed(result, len(order)))
        data["mixed"] = mixed_dict(result, found)
        if "out" in options:
            table_text = mixed_table_text(read_text(table.path), table, result, found, order, comparison.samples)
    seconds = time.perf_counter() - start
    runs = sum(t.runs for t in {id(t): t for t in (trials, verify) if t is not None}.values())
    report.append("time: %.1f s (ranking from cached activations, %d whole-model int8 trials)" % (seconds, runs))
    data["trials"] = {"count": runs, "seconds": seconds}
    return "\n".join(report), data, table_text


def write_outputs(flags, options, data, comparison, table_text, fp_param, int8_param):
    """Write --json, --plot and out= together (all or none)."""
    from ncnnlike.io.atomic import atomic_files
    from ncnnlike.quant.plot import comparison_png
    blobs = {}
    if "--json" in flags:
        blobs[flags["--json"]] = (json.dumps(json_safe(data), indent=1, allow_nan=False) + "\n").encode()
    if "--plot" in flags:
        title = "per-layer SNR, fp32 vs int8: %s vs %s" % (os.path.basename(fp_param), os.path.basename(int8_param))
        blobs[flags["--plot"]] = comparison_png(comparison, title)
    if table_text is not None:
        blobs[options["out"]] = table_text.encode()
    if not blobs:
        return
    paths = list(blobs)
    with atomic_files(*paths) as temps:
        for path, tmp in zip(paths, temps):
            with open(tmp, "wb") as f:
                f.write(blobs[path])


def _main(argv):
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.compare import Samples, compare_models, comparison_dict, format_comparison, probes
    from ncnnlike.quant.images import parse_preprocess, read_lists
    from ncnnlike.quant.tablefile import read_table
    from ncnnlike.runtime import Net

    from ncnnlike.scale.cluster import cluster_option
    from ncnnlike.scale.comparison import cluster_compare

    positionals, options, flags = parse_argv(argv)
    cluster = cluster_option(options)
    threads = thread_option(options, os.cpu_count() or 1)
    batch = check_batch(_int_option(options, "batch", 8))
    check_mixed_options(options)
    fp_param, fp_bin, int8_param, int8_bin, list_arg = positionals
    check_writable(list(flags.values()) + ([options["out"]] if "out" in options else []),
                   positionals[:4] + list_arg.split(",") + ([options["table"]] if "table" in options else []))
    from ncnnlike.io.atomic import check_replaces
    for path, kind in ((options.get("out"), "table"), (flags.get("--json"), "json"), (flags.get("--plot"), "png")):
        if path is not None:
            check_replaces(path, kind)
    fp_graph, int8_graph = load_model(fp_param, fp_bin), load_model(int8_param, int8_bin)
    table = read_table(options["table"]) if "table" in options else None
    preprocess = parse_preprocess(options, fp_graph.input_names())
    lists = read_lists(list_arg.split(","))
    if len(lists) != len(preprocess):
        raise NcnnlikeError("%d list files given but the model has %d inputs" % (len(lists), len(preprocess)))
    held = None
    if "target" in options or "out" in options:
        lists, held = (lists, read_lists(options["validate"].split(","))) if "validate" in options else \
            split_holdout(lists, options)
        if held is None and check_mixed_options(options)[1] == AUTO:
            raise NcnnlikeError("target=auto needs held-apart samples: holdout=K >= 2 with at least 2K samples, "
                                "or validate=list.txt (or give target=<0..1>)")
    if "--plot" in flags and not probes(fp_graph, int8_graph):
        raise NcnnlikeError("--plot: %s has no quantized layer to plot" % int8_param)
    nets = [Net.from_graph(g) for g in (fp_graph, int8_graph)]
    for net in nets:
        net.opt.num_threads = threads
    samples = Samples(lists, preprocess, batch, threads)
    held = Samples(held, preprocess, batch, threads) if held else None
    with cluster_compare(cluster, fp_graph, int8_graph, lists, preprocess, batch, held.lists if held else None) \
            as remote:
        comparison = remote.compare() if remote else compare_models(nets[0], nets[1], samples)
        report, data, table_text = [format_comparison(comparison)], comparison_dict(comparison), None
        if table is not None:
            text, extra, table_text = mixed_precision(fp_graph, table, options, samples, comparison, threads,
                                                      remote.trials if remote else None, held,
                                                      remote.part("held") if remote and held else None)
            report.append(text)
            data.update(extra)
    write_outputs(flags, options, data, comparison, table_text, fp_param, int8_param)
    sys.stdout.write("\n".join(report) + "\n")
    return 0


def main(argv=None):
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
