"""model2table: calibrate a model and write an ncnn int8 table, with ncnn2table's arguments (spec 5.1).

    model2table in.param in.bin list1[,list2,...] out.table [key=value ...]
    model2table in.param in.bin out.table [key=value ...]        (no dataset: weight-only table)

Keys: mean norm shape pixel thread method type (as ncnn2table), plus percentile= (for
method=percentile), batch= (images per runtime batch) and stats= (also save the statistics .npz).
Unknown keys are an error (ncnn2table ignores them).
"""
import os
import sys

from ncnnlike.cli.common import check_keys, run_main, split_args
from ncnnlike.errors import NcnnlikeError

USAGE = ("usage: model2table in.param in.bin list1[,list2,...] out.table [mean=[..] norm=[..] "
         "shape=[..] pixel=.. thread=N method=kl|aciq|eq|minmax|percentile|mse type=0|1]")
KEYS = ("mean", "norm", "shape", "pixel", "thread", "method", "type", "percentile", "batch", "stats")


def _int_option(options, key, default, low):
    text = options.get(key, str(default))
    try:
        value = int(text)
    except ValueError:
        raise NcnnlikeError("%s=%s: expected an integer" % (key, text)) from None
    if value < low:
        raise NcnnlikeError("%s=%s: must be at least %d" % (key, text, low))
    return value


def _method_options(options):
    method = options.get("method", "kl")
    extra = {}
    if "percentile" in options:
        if method != "percentile":
            raise NcnnlikeError("percentile= only applies to method=percentile")
        try:
            extra["percentile"] = float(options["percentile"])
        except ValueError:
            raise NcnnlikeError("percentile=%s: expected a number" % options["percentile"]) from None
    return method, extra


def _report(stats, thresholds, scales):
    """ncnn2table's per-layer line on stderr: name : max = .. threshold = .. scale = .."""
    for name, layer_stats in stats.items():
        sys.stderr.write("%-40s : max = %-15f  threshold = %-15f  scale = %-15f\n"
                         % (name, float(layer_stats.absmax.absmax), float(thresholds[name]), float(scales[name][0])))


def _main(argv):
    from ncnnlike.io.model import load_model
    from ncnnlike.quant import methods
    from ncnnlike.quant.tablefile import write_table
    from ncnnlike.quant.weights import static_weight_lines

    positionals, options = split_args(argv, USAGE)
    check_keys(options, KEYS)
    if len(positionals) not in (3, 4):
        raise NcnnlikeError("expected 3 or 4 file arguments, got %d\n%s" % (len(positionals), USAGE))
    param, binfile = positionals[:2]
    table = positionals[-1]
    threads = _int_option(options, "thread", os.cpu_count() or 1, 1)
    batch = _int_option(options, "batch", 4, 1)
    method, extra = _method_options(options)
    if method != "eq":
        methods.get(method, **extra)
    graph = load_model(param, binfile)
    if len(positionals) == 3:
        sys.stderr.write("calibration dataset not provided: writing a weight-only table\n")
        write_table(table, {}, {}, static_weight_lines(graph))
        return 0
    weight_lines, blob_lines, static_lines, stats, thresholds = calibrate(
        graph, positionals[2].split(","), options, method, extra, threads, batch)
    _report(stats, thresholds, blob_lines)
    if "stats" in options:
        stats.save(options["stats"])
    write_table(table, weight_lines, blob_lines, static_lines)
    return 0


def calibrate(graph, list_paths, options, method, extra, threads, batch):
    """Preprocess, stream, collect statistics, choose thresholds: the table's three line groups,
    the statistics and the thresholds (for eq: the KL ones it starts from)."""
    from ncnnlike.quant import methods
    from ncnnlike.quant.calibrate import collect_stats
    from ncnnlike.quant.images import parse_preprocess, read_lists
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
    need_hist = method == "eq" or methods.needs_histogram(method)
    stats = collect_stats(net, lists, preprocess, histogram=need_hist, batch_size=batch, threads=threads)
    thresholds = methods.thresholds(stats, "kl" if method == "eq" else method, **extra)
    if method == "eq":
        from ncnnlike.quant.methods.eq import equalize_table
        weight_lines, blob_lines, static_lines = equalize_table(net, lists, preprocess, stats, threads)
    else:
        weight_lines, blob_lines, static_lines = methods.compute_table(graph, stats, method, thresholds, **extra)
    return weight_lines, blob_lines, static_lines, stats, thresholds


def main(argv=None):
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
