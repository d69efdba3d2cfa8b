"""Hypothesis strategies over command lines: each console script with real seed files, bad option
values, outputs that are inputs, FIFOs, symlinks, device nodes, missing folders, and junk tokens."""
import os
import stat

from hypothesis import strategies as st

from fuzz.mutate import JUNK

OPTION_VALUES = {
    "thread": ["1", "2", "0", "-1", "1000", "100000", "١٥", "1.5", "", "2 "],
    "batch": ["1", "3", "0", "100000", "x"],
    "shape": ["[32,32,3]", "[32,32]", "[0,32]", "[32,0,3]", "[2147483648,1,3]", "[99999999999999999999,0,3]",
              "[-1,-1,3]", "[32,32,3],[32,32,3]", "[]", "[32,32,3", "32,32,3", "[١٥,32,3]"],
    "mean": ["[104,117,123]", "[1e39]", "[nan]", "[1,2,3,4,5]", "[١٥.6]", "[]", "[1_0]"],
    "norm": ["[0.017,0.017,0.017]", "[0,0,0]", "[inf]", "[1e-45]", "[3.5e38]"],
    "pixel": ["BGR", "RGB", "GRAY", "RGBA", "RAW", "bgr", "", "BGR,RGB"],
    "method": ["kl", "aciq", "minmax", "percentile", "mse", "eq", "bogus"],
    "type": ["0", "1", "2", "x"],
    "percentile": ["99.9", "nan", "101", "-1"],
    "skip_bad": ["0", "1", "2"],
    "fp16": ["0", "1", "2"],
    "rank": ["float_one", "quantize_one", "both", "x"],
    "target": ["0.99", "2", "nan", "0"],
    "rank_images": ["1", "0"],
    "search": ["fast", "exact", "x"],
}
TOOL_KEYS = {
    "model2table": ["thread", "batch", "shape", "mean", "norm", "pixel", "method", "type", "percentile", "skip_bad"],
    "model2int8": ["fp16"],
    "model-compare": ["thread", "batch", "shape", "mean", "norm", "pixel", "type", "rank", "target", "rank_images",
                      "search"],
    "model-optimize": [],
    "onnx2model": [],
}


def device_node(folder):
    """A character device like /dev/null made in `folder` (root only; else None): a target that must
    never be replaced, without risking the machine's own /dev/null if a writer gets it wrong."""
    path = os.path.join(folder, "null")
    if not os.path.exists(path):
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except (OSError, AttributeError):
            return None
    return path


def special_paths(folder, corpus):
    """Output targets that must be refused or handled: a FIFO, a symlink, a folder, a device node, a
    path in a missing folder, a name with control characters; made once in `folder`. (The command's
    own inputs are drawn as outputs too: `command`.)"""
    fifo = os.path.join(folder, "fifo")
    link = os.path.join(folder, "link.param")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    if not os.path.lexists(link):
        os.symlink(os.path.join(folder, "target.param"), link)
        with open(os.path.join(folder, "target.param"), "w") as f:
            f.write("keep\n")
    device = device_node(folder)
    return [p for p in (fifo, link, folder, device, os.path.join(folder, "missing", "out.param"),
                        os.path.join(folder, "e\x1b[31m\r\udcff.param")) if p is not None]


@st.composite
def options(draw, tool):
    keys = draw(st.lists(st.sampled_from(TOOL_KEYS[tool] or ["x"]), max_size=4, unique=True))
    return ["%s=%s" % (k, draw(st.sampled_from(OPTION_VALUES.get(k, ["1"])))) for k in keys]


@st.composite
def command(draw, corpus, out_dir, specials):
    """(tool, argv, output paths) for one run of a console script."""
    tool = draw(st.sampled_from(sorted(TOOL_KEYS)))
    outs = [os.path.join(out_dir, name) for name in ("o.param", "o.bin", "o.table", "o.json", "o.png")]

    tiny, table = corpus.tiny, corpus.table
    inputs = {"onnx2model": [corpus.tiny_onnx], "model-optimize": list(tiny), "model2int8": [*tiny, table],
              "model2table": [*tiny, corpus.list], "model-compare": [*tiny, *corpus.tiny_int8, corpus.list, table]}

    def out(i):
        return draw(st.sampled_from([outs[i]] * 6 + specials + inputs[tool]))

    if tool == "onnx2model":
        argv = [corpus.tiny_onnx, out(0), out(1)]
    elif tool == "model-optimize":
        argv = [*tiny, out(0), out(1), draw(st.sampled_from(["0", "1", "65536", "x", "١", "7"]))]
    elif tool == "model2int8":
        argv = [*tiny, out(0), out(1)] + draw(st.sampled_from([[table], [], [out(2)]]))
    elif tool == "model2table":
        argv = [*tiny, draw(st.sampled_from([corpus.list, corpus.npy_list, "missing.txt"])), out(2)]
    else:
        argv = [*tiny, *corpus.tiny_int8, corpus.list]
        if draw(st.booleans()):
            argv += ["table=" + table]
        if draw(st.booleans()):
            argv += ["--json", out(3)]
        if draw(st.booleans()):
            argv += ["--plot", out(4)]
    argv += draw(options(tool))
    if tool in ("model2table", "model-compare") and not any(a.startswith("shape=") for a in argv):
        argv.append("shape=[32,32,3]")
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(argv)))
        argv.insert(at, draw(st.sampled_from(JUNK + ["--verbose", "--json", "-", "x=1", "=", "--bogus"])))
    if draw(st.integers(0, 5)) == 0 and argv:
        del argv[draw(st.integers(0, len(argv) - 1))]
    written = [a for a in argv if a in outs]
    return tool, argv, written
