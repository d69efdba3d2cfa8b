"""model-optimize: fuse and simplify a float model, with ncnnoptimize's arguments (spec 4.1).

    model-optimize in.param in.bin out.param out.bin flag [cutstart [cutend]]

flag: 0 stores tagged weights as fp32, 1 or 65536 as fp16 (raw buffers stay fp32); any other
integer means fp32, as ncnnoptimize's atoi; a non-integer is an error. One log line per rewrite on
stderr, as ncnnoptimize. An int8 model is refused, and so is a model with shaped inputs that our
runtime cannot lower. Both output files appear only when complete, never over an input.

numpy is imported only when a pass changes weights or a conversion needs it (fp16): the weights no
pass touches go from the input .bin to the output as bytes (io/stored.py).
"""
import sys

from ncnnlike.cli.common import check_lowerable, exit_at_once, parse_int, run_main
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.atomic import check_outputs, check_replaces
from ncnnlike.io.model import load_model, save_model
from ncnnlike.io.stored import dtype_name, stored_items
from ncnnlike.passes import check_float, optimize
from ncnnlike.passes.cut import apply_cut, cut_range

USAGE = "usage: model-optimize in.param in.bin out.param out.bin flag [cutstart [cutend]]"
FP16_FLAGS = (1, 65536)


def parse_flag(text):
    """The storage flag: True for fp16 (1 or 65536), False for fp32 (any other integer)."""
    try:
        return parse_int(text, "flag") in FP16_FLAGS
    except NcnnlikeError:
        raise NcnnlikeError("flag '%s': expected an integer (0 = fp32, 1 or 65536 = fp16 weights)" % text) from None


def widen_float16(graph):
    """fp16-stored weights back to fp32 (flag 0: ncnnoptimize widens them on load). Only tagged
    buffers can be stored as fp16 (raw ones are always fp32)."""
    for layer in graph.layers:
        for name, entry in stored_items(layer.weights):
            if dtype_name(entry) == "float16":
                layer.weights[name] = layer.weights[name].astype("float32")


def _log(line):
    sys.stderr.write(line + "\n")


def _main(argv):
    if len(argv) < 5 or len(argv) > 7:
        raise NcnnlikeError("expected 5 to 7 arguments, got %d (%s)" % (len(argv), USAGE))
    in_param, in_bin, out_param, out_bin, flag = argv[:5]
    fp16 = parse_flag(flag)
    check_outputs([out_param, out_bin], [in_param, in_bin])
    check_replaces(out_param, "param")
    check_replaces(out_bin, "bin")
    cutstart = argv[5] if len(argv) > 5 else None
    cutend = argv[6] if len(argv) > 6 else None
    graph = load_model(in_param, in_bin, writable=False)   # most weights go out as they came in
    check_float(graph)
    keep = cut_range(graph, cutstart, cutend) if cutstart is not None else None
    layers_before = len(graph.layers)
    rewrites = optimize(graph, _log)
    if keep is not None:
        apply_cut(graph, keep, _log)
    if not fp16:
        widen_float16(graph)
    check_lowerable(graph)   # also the graphs shape_inference skips (host layers)
    save_model(graph, out_param, out_bin, fp16=fp16)
    _log("model-optimize: %d layers -> %d layers, %d rewrites, %s weights"
         % (layers_before, len(graph.layers), len(rewrites), "fp16" if fp16 else "fp32"))
    return 0


def main(argv=None):
    return run_main(_main, argv)


def console_main():
    """The model-optimize console script: main() on sys.argv, then exit_at_once."""
    exit_at_once(main())


if __name__ == "__main__":
    console_main()
