"""PP-OCRv4 rec, the real paddle2onnx export, through onnx2model: fp32 parity with onnxruntime.

    python tools/onnx_zoo_ppocr.py [--lines 300] [--f64 12] [--keep DIR]

onnx2model (shape=[1,3,48,320]) writes the model once; onnxruntime runs the source ONNX, our
runtime and pip ncnn run the written files on the eval text lines (textlines/README.md). Printed
per runtime, against onnxruntime: the CTC probabilities (max abs diff over all lines, and the
median over lines of each line's max), the logits before the final Softmax (the same, divided by
that line's largest |logit|: "relative for large outputs"), and identical decoded strings.

--f64 N adds a float64 evaluation of the source graph (tools/onnx_zoo_f64.py) on the N lines where
pip ncnn departs most from onnxruntime, and sets all three float32 runtimes against it: how far
float32 itself is from the exact answer on this network, hence what a 1e-4 bar can ask.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.ocr import INPUT, ONNX, characters, decode, load_split  # noqa: E402


def logits_name(model):
    """The input of the Softmax that makes the graph output (the CTC logits)."""
    out = model.graph.output[0].name
    node = next(n for n in model.graph.node if out in n.output)
    if node.op_type != "Softmax":
        raise SystemExit("the graph output is not a Softmax (%s)" % node.op_type)
    return node.input[0]


def onnxruntime_run(model, logits, inputs):
    """(probabilities, logits) of onnxruntime, one line at a time: the source graph for the
    probabilities, a second session with the logits as an extra output for them."""
    plain = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    extended = onnx.ModelProto.FromString(model.SerializeToString())
    extended.graph.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, None))
    both = ort.InferenceSession(extended.SerializeToString(), providers=["CPUExecutionProvider"])
    probs = np.concatenate([plain.run(None, {INPUT: x[None]})[0] for x in inputs])
    z = np.concatenate([both.run([logits], {INPUT: x[None]})[0] for x in inputs])
    return probs, z


def ours_run(param, binfile, outputs, inputs, batch=20):
    from tools.common import our_net
    net = our_net(param, binfile, False, threads=2)
    rows = [net.run({INPUT: inputs[i:i + batch]}, outputs) for i in range(0, len(inputs), batch)]
    return [np.concatenate([r[o] for r in rows]).reshape(len(inputs), -1) for o in outputs]


def pip_ncnn_run(param, binfile, outputs, inputs):
    """Extracted logits first: ncnn frees a blob once its reader ran (light mode)."""
    from tools.common import ncnn_extract, ncnn_net
    net = ncnn_net(param, binfile, threads=2)
    rows = [ncnn_extract(net, {INPUT: x}, outputs[::-1]) for x in inputs]
    return [np.stack([r[o].ravel() for r in rows]) for o in outputs]


def line_max(a, b, relative=False):
    """Per line: max |a - b| (divided by max |b| when relative)."""
    a, b = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    d = np.abs(a - b).max(1)
    return d / np.abs(b).max(1) if relative else d


def parity_rows(runs, want_p, want_z, chars):
    """One printed row per runtime against onnxruntime."""
    strings = decode(want_p, chars)
    print("%-14s %12s %12s %12s %12s %9s" % ("vs onnxruntime", "probs max", "probs median",
                                             "logits rel max", "rel median", "strings"))
    for name, (p, z) in runs.items():
        dp, dz = line_max(p, want_p), line_max(z, want_z, relative=True)
        same = np.mean([s == t for s, t in zip(decode(p.reshape(want_p.shape), chars), strings)])
        print("%-14s %12.2e %12.2e %12.2e %12.2e %8.1f%%" % (name, dp.max(), np.median(dp), dz.max(),
                                                               np.median(dz), 100 * same))


def f64_rows(runs, lines, logits, inputs):
    """The float32 runtimes against float64 on `lines` (indices into inputs)."""
    from tools.onnx_zoo_f64 import Float64Model
    model = Float64Model(ONNX)
    out = onnx.load(ONNX, load_external_data=False).graph.output[0].name
    ref = [model.run([out, logits], {INPUT: inputs[i:i + 1]}) for i in lines]
    ref_p = np.stack([r[0].ravel() for r in ref])
    ref_z = np.stack([r[1].ravel() for r in ref])
    print("\nagainst float64 on the %d lines where pip ncnn departs most from onnxruntime:" % len(lines))
    print("%-14s %12s %12s %12s %12s" % ("vs float64", "probs max", "probs median", "logits rel max", "rel median"))
    for name, (p, z) in runs.items():
        dp, dz = line_max(p[lines], ref_p), line_max(z[lines], ref_z, relative=True)
        print("%-14s %12.2e %12.2e %12.2e %12.2e" % (name, dp.max(), np.median(dp), dz.max(), np.median(dz)))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=300, help="eval text lines (default all 300)")
    ap.add_argument("--f64", type=int, default=0, help="float64 reference on this many worst lines (~4 s each)")
    ap.add_argument("--keep", help="write the converted model here instead of a temporary folder")
    return ap.parse_args()


def main():
    from ncnnlike.onnx import convert
    from ncnnlike.onnx.importer import sanitize
    args = parse_args()
    model = onnx.load(ONNX)
    logits = logits_name(model)
    inputs, _, _ = load_split("eval", args.lines)
    chars = characters()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        param, binfile = os.path.join(folder, "rec.param"), os.path.join(folder, "rec.bin")
        convert(ONNX, param, binfile, shapes=[[1, 3, 48, 320]])
        outputs = [sanitize(model.graph.output[0].name, ""), sanitize(logits, "")]
        runs = {"onnxruntime": onnxruntime_run(model, logits, inputs),
                "ours": tuple(ours_run(param, binfile, outputs, inputs)),
                "pip ncnn": tuple(pip_ncnn_run(param, binfile, outputs, inputs))}
    want_p, want_z = runs["onnxruntime"]
    print("PP-OCRv4 rec, %d eval lines, fp32 (pip ncnn: fp16 off, packing on, 2 threads)" % len(inputs))
    parity_rows({k: v for k, v in runs.items() if k != "onnxruntime"}, want_p, want_z, chars)
    if args.f64:
        worst = np.argsort(-line_max(runs["pip ncnn"][0], want_p))[:args.f64]
        f64_rows(runs, sorted(worst.tolist()), logits, inputs)


if __name__ == "__main__":
    main()
