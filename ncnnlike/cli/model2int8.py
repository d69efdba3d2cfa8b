"""model2int8: convert a float model to int8 with a calibration table, with ncnn2int8's arguments (spec 6.1).

    model2int8 in.param in.bin out.param out.bin [table] [fp16=0|1] [adjust=model.adjust]

The table follows our semantics (quant/table_semantics.py): `#` comments, a conv layer is int8 only
if both its lines are present. Without a table only Gemm is quantized, like ncnn2int8. Float
weights that remain are stored as fp16 like ncnn2int8 (fp16=0 keeps them fp32). adjust= applies the
weights-adjustment file model2table correct=... adjust=... wrote (optimised rounding, corrected
bias) to the layers the table quantizes with the scales it was made for. Progress and warnings go
to stderr; `fuse_requantize a b` is printed only when a fusion happens.
"""
import sys

from ncnnlike.cli.common import check_keys, check_lowerable, exit_at_once, one_blas_thread, run_main, split_args
from ncnnlike.errors import NcnnlikeError

USAGE = "usage: model2int8 in.param in.bin out.param out.bin [table] [fp16=0|1] [adjust=model.adjust]"
KEYS = ("fp16", "adjust")


def _fp16_option(options):
    value = options.get("fp16", "1")
    if value not in ("0", "1"):
        raise NcnnlikeError("fp16=%s: expected 0 (keep float weights fp32) or 1 (store them as fp16)" % value)
    return value == "1"


def _main(argv):
    from ncnnlike.io.atomic import check_outputs, check_replaces
    from ncnnlike.io.model import load_model, save_model
    from ncnnlike.quant.adjustfile import read_adjust
    from ncnnlike.quant.convert import quantize_graph
    from ncnnlike.quant.tablefile import read_table

    positionals, options = split_args(argv, USAGE)
    check_keys(options, KEYS)
    if len(positionals) not in (4, 5):
        raise NcnnlikeError("expected 4 or 5 file arguments, got %d (%s)" % (len(positionals), USAGE))
    fp16 = _fp16_option(options)
    in_param, in_bin, out_param, out_bin = positionals[:4]
    check_outputs([out_param, out_bin], [in_param, in_bin] + positionals[4:])
    check_replaces(out_param, "param")
    check_replaces(out_bin, "bin")
    table = read_table(positionals[4]) if len(positionals) == 5 else None
    if "adjust" in options and table is None:
        raise NcnnlikeError("adjust= needs the table it was made with")
    adjust = read_adjust(options["adjust"]) if "adjust" in options else None
    graph = load_model(in_param, in_bin)
    if table is None:
        sys.stderr.write("warning: no table given: only Gemm layers are quantized (make a table with model2table)\n")
    quantized, log = quantize_graph(graph, table, adjust)
    for line in log:
        sys.stderr.write(line + "\n")
    check_lowerable(quantized)
    save_model(quantized, out_param, out_bin, fp16=fp16)
    return 0


def main(argv=None):
    return run_main(_main, argv)


def console_main():
    """The model2int8 console script: main() on sys.argv, then exit_at_once."""
    one_blas_thread()
    exit_at_once(main())


if __name__ == "__main__":
    console_main()
