"""model2table: calibrate a model and write an ncnn int8 table, with ncnn2table's arguments (spec 5.1).

    model2table in.param in.bin list1[,list2,...] out.table [key=value ...]
    model2table in.param in.bin out.table [key=value ...]        (no dataset: weight-only table)

Keys: mean norm shape pixel thread method type (as ncnn2table), plus percentile= (for
method=percentile), batch= (images per runtime batch), stats= (also save the statistics .npz) and
skip_bad=1 (leave out damaged images with a warning each and a count, instead of stopping),
workers=N [ray_address=host:port] (both passes on N Ray workers, thread= threads each: the same
table; docs/scale-out.md), correct=bias|round|bias,round with adjust=out.adjust (also write the
weights-adjustment file model2int8 adjust= applies: bias correction, optimised weight rounding;
quant/corrections.py). method=auto (quant/methods/auto.py) judges each threshold by running the
int8 layer on real bottoms. Unknown keys are an error (ncnn2table ignores them).
"""
import os
import sys

from ncnnlike.cli.common import (check_keys, one_blas_thread, parse_float, parse_int, run_main, split_args,
                                 thread_option)
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import check_outputs, check_replaces
from ncnnlike.io.limits import check_batch

USAGE = ("usage: model2table in.param in.bin list1[,list2,...] out.table [mean=[..] norm=[..] "
         "shape=[..] pixel=.. thread=N method=kl|aciq|eq|minmax|percentile|mse|auto type=0|1 skip_bad=0|1 "
         "workers=N ray_address=.. correct=bias,round adjust=out.adjust]")
KEYS = ("mean", "norm", "shape", "pixel", "thread", "method", "type", "percentile", "batch", "stats", "skip_bad",
        "workers", "ray_address", "correct", "adjust")


def _int_option(options, key, default, low):
    text = options.get(key, str(default))
    value = parse_int(text, key)
    if value < low:
        raise NcnnlikeError("%s=%s: must be at least %d" % (key, text, low))
    return value


def _method_options(options):
    method = options.get("method", "kl")
    extra = {}
    if "percentile" in options:
        if method != "percentile":
            raise NcnnlikeError("percentile= only applies to method=percentile")
        extra["percentile"] = parse_float(options["percentile"], "percentile")
    return method, extra


def _corrections(options):
    """correct= and adjust= go together: (corrections tuple, adjust path) or ((), None)."""
    if ("correct" in options) != ("adjust" in options):
        raise NcnnlikeError("correct= and adjust= go together: correct=bias,round adjust=out.adjust")
    if "correct" not in options:
        return (), None
    from ncnnlike.quant.corrections import parse_corrections   # here: 15 ms of imports a plain run skips
    return parse_corrections(options["correct"]), options["adjust"]


def _report(stats, thresholds, scales):
    """ncnn2table's per-layer line on stderr: name : max = .. threshold = .. scale = .."""
    for name, layer_stats in stats.items():
        sys.stderr.write("%-40s : max = %-15f  threshold = %-15f  scale = %-15f\n"
                         % (name, float(layer_stats.absmax.absmax), float(thresholds[name]), float(scales[name][0])))


def _main(argv):
    from ncnnlike.runtime.heap import keep_freed_pages, one_arena
    from ncnnlike.io.model import load_model
    from ncnnlike.quant import methods
    from ncnnlike.quant.tablefile import write_table
    from ncnnlike.quant.weights import static_weight_lines
    from ncnnlike.scale.cluster import cluster_option

    positionals, options = split_args(argv, USAGE)
    check_keys(options, KEYS)
    keep_freed_pages()
    one_arena()
    cluster = cluster_option(options)
    if len(positionals) not in (3, 4):
        raise NcnnlikeError("expected 3 or 4 file arguments, got %d (%s)" % (len(positionals), USAGE))
    param, binfile = positionals[:2]
    table = positionals[-1]
    threads = thread_option(options, os.cpu_count() or 1)
    batch = check_batch(_int_option(options, "batch", 4, 1))
    list_paths = positionals[2].split(",") if len(positionals) == 4 else []
    from ncnnlike.quant.images import read_lists
    samples = [e.path for entries in read_lists(list_paths) for e in entries] if list_paths else []
    check_outputs([table, options.get("stats"), options.get("adjust")],
                  [param, binfile] + list_paths + samples)   # never over an input, a list or a sample
    check_replaces(table, "table")
    method, extra = _method_options(options)
    if method not in methods.MODEL_METHODS:
        methods.get(method, **extra)
    corrections, adjust_path = _corrections(options)
    graph = load_model(param, binfile)
    if len(positionals) == 3:
        if corrections:
            raise NcnnlikeError("correct= needs a calibration dataset")
        sys.stderr.write("calibration dataset not provided: writing a weight-only table\n")
        write_table(table, {}, {}, static_weight_lines(graph))
        return 0
    weight_lines, blob_lines, static_lines, stats, thresholds, adjust = calibrate(
        graph, list_paths, options, method, extra, threads, batch, cluster, corrections)
    _report(stats, thresholds, blob_lines)
    if "stats" in options:
        stats.save(options["stats"])
    _write(table, (weight_lines, blob_lines, static_lines), adjust_path, adjust)
    return 0


def _write(table, lines, adjust_path, adjust):
    """The table, and with correct= the weights-adjustment file, written as a pair (all or none)."""
    from ncnnlike.quant.tablefile import write_table
    if adjust_path is None:
        write_table(table, *lines)
        return
    from ncnnlike.io.atomic import atomic_files
    from ncnnlike.quant.adjustfile import write_adjust
    with atomic_files(table, adjust_path) as (table_tmp, adjust_tmp):
        write_table(table_tmp, *lines)
        write_adjust(adjust_tmp, adjust)


def _progress(label):
    def report(done, total):
        sys.stderr.write("\r%s: %d/%d" % (label, done, total) + ("\n" if done == total else ""))
        sys.stderr.flush()
    return report


def calibrate(graph, list_paths, options, method, extra, threads, batch, cluster=None, corrections=()):
    """Preprocess, stream, collect statistics (on `cluster`'s Ray workers when given), choose
    thresholds: the table's three line groups, the statistics, the thresholds (for eq: the KL
    ones it starts from) and the weights adjustments of `corrections` (empty without)."""
    from collections import OrderedDict

    from ncnnlike.quant import methods
    from ncnnlike.quant.calibrate import collect_stats, measured_blobs
    from ncnnlike.quant.images import parse_preprocess, read_lists
    from ncnnlike.quant.samples import BlobSamples
    from ncnnlike.runtime import Net

    inputs = graph.input_names()
    if len(list_paths) != len(inputs):
        raise NcnnlikeError("%d list files given but the model has %d Input layers (%s)"
                            % (len(list_paths), len(inputs), ", ".join(inputs)))
    preprocess = parse_preprocess(options, inputs)
    lists = read_lists(list_paths)
    net = Net.from_graph(graph)
    net.opt.num_threads = threads
    net.opt.use_int8_inference = False
    samples = BlobSamples(measured_blobs(graph).values()) if method == "auto" or corrections else None
    need_hist = method == "eq" or methods.needs_histogram(method) or samples is not None
    if cluster is None:
        stats = collect_stats(net, lists, preprocess, histogram=need_hist, batch_size=batch, threads=threads,
                              samples=samples)
    else:
        from ncnnlike.scale.calibration import cluster_stats
        stats = cluster_stats(cluster, graph, lists, preprocess, histogram=need_hist, batch_size=batch,
                              samples=samples)
    if method == "auto":
        from ncnnlike.quant.methods import auto
        thresholds = auto.thresholds(graph, stats, samples, _progress("auto: run the int8 layers"))
    else:
        thresholds = methods.thresholds(stats, "kl" if method == "eq" else method, threads, **extra)
    if method == "eq":
        from ncnnlike.quant.methods.eq import equalize_table
        weight_lines, blob_lines, static_lines = equalize_table(net, lists, preprocess, stats, threads)
    else:
        weight_lines, blob_lines, static_lines = methods.compute_table(graph, stats, method, thresholds, **extra)
    adjust = OrderedDict()
    if corrections:
        from ncnnlike.quant.bias_correction import collect_patch_means
        from ncnnlike.quant.corrections import adjustments, table_layers
        means = None
        if "bias" in corrections:    # one more pass: the means of every layer's input over every sample
            sys.stderr.write("bias correction: input means over every sample\n")
            means = collect_patch_means(net, lists, preprocess, table_layers(graph, weight_lines, blob_lines),
                                        batch, threads)
        adjust, report = adjustments(graph, weight_lines, blob_lines, samples, corrections,
                                     _progress("correct " + ",".join(corrections)), means)
        sys.stderr.write("".join(line + "\n" for line in report))
    return weight_lines, blob_lines, static_lines, stats, thresholds, adjust


def main(argv=None):
    return run_main(_main, argv)


def console_main():
    """The model2table console script: main() on sys.argv with numpy's OpenBLAS on one thread
    (common.one_blas_thread), then the interpreter's usual exit (Ray or worker threads may run)."""
    one_blas_thread(sys.argv[1:])
    sys.exit(main())


if __name__ == "__main__":
    console_main()
