"""onnx2model: convert an ONNX model to an ncnn .param/.bin pair, like ncnn's onnx2ncnn.

    onnx2model model.onnx out.param out.bin

The batch axis is fixed to 1 and every tensor gets a static shape (ncnnlike/onnx/importer.py).
An unsupported op, a missing or unreadable file: one line on stderr, exit 2, no output written.
"""
import sys
import time

from ncnnlike.cli.common import run_main, split_args
from ncnnlike.errors import NcnnlikeError

USAGE = "usage: onnx2model model.onnx out.param out.bin"


def _main(argv):
    positionals, options = split_args(argv, USAGE)
    if options or len(positionals) != 3:
        raise NcnnlikeError("expected exactly 3 file arguments (%s)" % USAGE)
    onnx_path, param_path, bin_path = positionals
    from ncnnlike.onnx import convert
    start = time.time()
    graph = convert(onnx_path, param_path, bin_path)
    sys.stderr.write("%s: %d layers, %d blobs -> %s, %s (%.2f s)\n" % (
        onnx_path, len(graph.layers), len(graph.blob_names()), param_path, bin_path, time.time() - start))
    return 0


def main(argv=None):
    return run_main(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
