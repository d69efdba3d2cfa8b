"""onnx2model: convert an ONNX model to an ncnn .param/.bin pair, like ncnn's onnx2ncnn.

    onnx2model model.onnx out.param out.bin [shape=[1,3,48,320]]

The batch axis is fixed to 1 and every tensor gets a static shape (ncnnlike/onnx/importer.py);
shape= pins the graph inputs of a dynamic-shape export (ONNX order with batch, one bracketed list
per graph input in order: shape=[1,3,48,320],[1,10]).
An unsupported op, a missing or unreadable file: one line on stderr, exit 2, no output written.
"""
import re
import sys
import time

from ncnnlike.cli.common import check_keys, check_lowerable, run_main, split_args
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.limits import check_size
from ncnnlike.io.numbers import ascii_int

USAGE = "usage: onnx2model model.onnx out.param out.bin [shape=[1,3,224,224][,[...]]]"


def parse_shapes(text):
    """'[1,3,48,320],[1,10]' -> [[1, 3, 48, 320], [1, 10]], or one clear error."""
    if not re.fullmatch(r"\s*\[[^\[\]]*\](\s*,\s*\[[^\[\]]*\])*\s*", text):
        raise NcnnlikeError("shape=%s: expected bracketed lists of sizes, e.g. shape=[1,3,224,224]" % text)
    shapes = []
    for group in re.findall(r"\[([^\[\]]*)\]", text):
        try:
            sizes = [ascii_int(v) for v in group.split(",")]
        except ValueError:
            raise NcnnlikeError("shape=%s: sizes must be integers, got [%s]" % (text, group)) from None
        if any(v <= 0 for v in sizes):
            raise NcnnlikeError("shape=%s: sizes must be positive, got [%s]" % (text, group))
        check_size("shape=%s" % text, sizes, "MAX_INPUT_ELEMENTS")
        shapes.append(sizes)
    return shapes


def _main(argv):
    positionals, options = split_args(argv, USAGE)
    check_keys(options, ["shape"])
    if len(positionals) != 3:
        raise NcnnlikeError("expected exactly 3 file arguments (%s)" % USAGE)
    onnx_path, param_path, bin_path = positionals
    shapes = parse_shapes(options["shape"]) if "shape" in options else None
    from ncnnlike.io.atomic import check_outputs, check_replaces
    check_outputs([param_path, bin_path], [onnx_path])
    check_replaces(param_path, "param")
    check_replaces(bin_path, "bin")
    from ncnnlike.io.model import save_model
    from ncnnlike.onnx import import_onnx
    start = time.time()
    graph = import_onnx(onnx_path, shapes=shapes)
    check_lowerable(graph)   # a graph our runtime cannot build is not written (issue 15)
    save_model(graph, param_path, bin_path)
    sys.stderr.write("%s: %d layers, %d blobs -> %s, %s (%.2f s)\n" % (
        onnx_path, len(graph.layers), len(graph.blob_names()), param_path, bin_path, time.time() - start))
    return 0


def main(argv=None):
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
