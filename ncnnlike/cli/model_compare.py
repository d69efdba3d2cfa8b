"""model-compare: where int8 hurts, layer by layer, and which layers to keep float (DESIGN flow).

    model-compare fp.param fp.bin int8.param int8.bin list1[,list2,...] [key=value ...] [--json out.json]
                  [--plot out.png]

Runs both models on the samples (preprocessed as model2table does: mean norm shape pixel type) and
prints, for every quantized layer, the error of its top blob fp32 vs int8 (cosine, SNR dB, max abs
error; worst first), then the network outputs' cosine and top-1 agreement. With table= (the table
the int8 model was made from) it also ranks the layers by sensitivity (rank=float_one: the output
cosine when only that layer stays float; quantize_one: when only that layer is int8; both, the
default), and with target=<output cosine> out=mixed.table it writes the table with the fewest layers
commented out so that the int8 model meets the target on these samples (with rank=both, searched
along each ranking, keeping the answer with fewer float layers). The ranking runs on the first
rank_images= samples (default 32); the search and the before/after figures on all of them.
search=fast (default) runs the ranking and search trials on the fast int8 kernels and confirms the
answer with ncnn's exact int8 arithmetic; search=exact runs every trial exactly (Lite0: about 4x slower).
Other keys: thread= batch=.
Results go to stdout, progress to stderr; files are written only when everything succeeded.
"""
import json
import math
import os
import sys
import time

from ncnnlike.cli.common import check_keys, run_main, split_args
from ncnnlike.errors import NcnnlikeError

USAGE = ("usage: model-compare fp.param fp.bin int8.param int8.bin list.txt [mean=[..] norm=[..] shape=[..] "
         "pixel=.. type=0|1 thread=N batch=N table=model.table rank=float_one|quantize_one|both rank_images=N "
         "target=<cosine> out=mixed.table search=fast|exact] [--json out.json] [--plot out.png]")
KEYS = ("mean", "norm", "shape", "pixel", "type", "thread", "batch", "table", "rank", "rank_images", "target", "out",
        "search")
SEARCHES = {"fast": "fast", "exact": True}   # search= -> the int8 mode the trials run in
FLAGS = ("--json", "--plot")
RANKS = ("float_one", "quantize_one", "both")
RANK_IMAGES = 32   # the ranking needs far fewer samples than the final check (Lite0: same top 5 as 100)


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
        value = int(text)
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
    for key, needs in (("rank", "table"), ("rank_images", "table"), ("target", "table"), ("out", "target"),
                       ("search", "table")):
        if key in options and needs not in options:
            raise NcnnlikeError("%s= needs %s= as well" % (key, needs))
    target = None
    if "target" in options:
        try:
            target = float(options["target"])
        except ValueError:
            target = math.nan
        if not 0 < target <= 1:
            raise NcnnlikeError("target=%s: expected an output cosine in (0, 1], e.g. target=0.995"
                                % options["target"])
    return rank, target, search


def check_writable(paths):
    """Every output's folder exists, so a long run does not end in a failed write."""
    for path in paths:
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise NcnnlikeError("cannot write %s: folder %s does not exist" % (path, folder))


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


def mixed_precision(fp_graph, table, options, samples, comparison, threads):
    """Sensitivity ranking, and automatic mixed precision when target= is given: (report, json, text)."""
    from ncnnlike.quant.compare import subset
    from ncnnlike.quant.sensitivity import (Trials, best_mixed, format_mixed, format_sensitivity, mixed_dict,
                                            mixed_table_text, ranking, sensitivity)
    rank, target, search = check_mixed_options(options)
    rank_images = _int_option(options, "rank_images", RANK_IMAGES)
    start = time.perf_counter()
    mode = SEARCHES[search]
    trials = Trials(fp_graph, table, samples, comparison.reference, threads, mode)
    verify = None if mode is True else Trials(fp_graph, table, samples, comparison.reference, threads)
    rank_trials = trials if rank_images >= comparison.samples else \
        Trials(fp_graph, table, *subset(samples, comparison.reference, rank_images), threads, mode)
    modes = ("float_one", "quantize_one") if rank == "both" else (rank,)
    found = sensitivity(rank_trials, modes, _progress("sensitivity"))
    order = ranking(found, modes[-1])
    report = [format_sensitivity(found, order)]
    data = {"sensitivity": [dict(found[name].as_dict(), rank=i + 1) for i, name in enumerate(order)]}
    table_text = None
    if target is not None:
        result, order = best_mixed(trials, found, modes, target, verify)
        report.append(format_mixed(result, len(order)))
        data["mixed"] = mixed_dict(result, found)
        if "out" in options:
            table_text = mixed_table_text(read_text(table.path), table, result, found, order, comparison.samples)
    seconds = time.perf_counter() - start
    runs = sum(t.runs for t in {id(t): t for t in (trials, rank_trials, verify) if t is not None}.values())
    report.append("time: %.1f s for %d int8 trials (one fp32 pass, reused)" % (seconds, runs))
    data["trials"] = {"count": runs, "seconds": seconds}
    return "\n".join(report), data, table_text


def write_outputs(flags, options, data, comparison, table_text, fp_param, int8_param):
    """Write --json, --plot and out= together (all or none)."""
    from ncnnlike.io.atomic import atomic_files
    from ncnnlike.quant.plot import comparison_png
    blobs = {}
    if "--json" in flags:
        blobs[flags["--json"]] = (json.dumps(data, indent=1, allow_nan=False) + "\n").encode()
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

    positionals, options, flags = parse_argv(argv)
    threads = _int_option(options, "thread", os.cpu_count() or 1)
    batch = _int_option(options, "batch", 8)
    check_mixed_options(options)
    check_writable(list(flags.values()) + ([options["out"]] if "out" in options else []))
    fp_param, fp_bin, int8_param, int8_bin, list_arg = positionals
    fp_graph, int8_graph = load_model(fp_param, fp_bin), load_model(int8_param, int8_bin)
    table = read_table(options["table"]) if "table" in options else None
    preprocess = parse_preprocess(options, fp_graph.input_names())
    lists = read_lists(list_arg.split(","))
    if len(lists) != len(preprocess):
        raise NcnnlikeError("%d list files given but the model has %d inputs" % (len(lists), len(preprocess)))
    if "--plot" in flags and not probes(fp_graph, int8_graph):
        raise NcnnlikeError("--plot: %s has no quantized layer to plot" % int8_param)
    nets = [Net.from_graph(g) for g in (fp_graph, int8_graph)]
    for net in nets:
        net.opt.num_threads = threads
    samples = Samples(lists, preprocess, batch, threads)
    comparison = compare_models(nets[0], nets[1], samples)
    report, data, table_text = [format_comparison(comparison)], comparison_dict(comparison), None
    if table is not None:
        text, extra, table_text = mixed_precision(fp_graph, table, options, samples, comparison, threads)
        report.append(text)
        data.update(extra)
    write_outputs(flags, options, data, comparison, table_text, fp_param, int8_param)
    sys.stdout.write("\n".join(report) + "\n")
    return 0


def main(argv=None):
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
