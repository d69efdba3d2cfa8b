"""Evaluate PP-OCRv4 rec int8 on ../shared/data/textlines/eval: exact match and character error rate
against the truth, string and per-step argmax agreement against fp32, per calibration method, in our
runtime and in pip ncnn. Prints one table; never fails a build.

    python tools/eval_ocr.py [--methods kl,aciq,minmax,percentile,mse,auto,auto+bias,auto+bias+round]
                             [--limit N] [--thread 2] [--mode sim|fast] [--no-ncnn] [--keep DIR]

The model: ../shared/models/ppocrv4-rec.onnx pinned to 1x3x48x320, through our onnx2model and
model-optimize. A method `m[+bias][+round]` runs the user flow with the CLIs: model2table on the
200 textlines/calib lines (RapidOCR preprocessing, saved as .npy, type=1; thread=2, method=m,
correct=bias,round adjust=... for the corrections), then model2int8 (adjust=). Scored on the 300
eval lines (tools/ocr.py) in our runtime (--mode sim: ncnn's int8 arithmetic, the default; fast: the
integer kernels) and, unless --no-ncnn, in pip ncnn (column "pip"; "agree ours" is the string
agreement of pip ncnn with our runtime). pip ncnn currently gives NaN on this model's fp32 layers
(BinaryOp pow of a negative base in the imported LayerNorm, issue 12): the column then says so.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common, ocr  # noqa: E402

METHODS = ["kl", "aciq", "minmax", "percentile", "mse", "auto", "auto+bias", "auto+bias+round"]
BASE = ("kl", "aciq", "eq", "minmax", "percentile", "mse", "auto")
CORRECTIONS = ("bias", "round")


def parse_method(text):
    """'auto+bias+round' -> ('auto', ('bias', 'round'))."""
    parts = text.split("+")
    if parts[0] not in BASE or any(p not in CORRECTIONS for p in parts[1:]):
        raise ValueError(text)
    return parts[0], tuple(p for p in CORRECTIONS if p in parts[1:])


def make_int8(name, param, binfile, listfile, folder, thread):
    """model2table + model2int8 with the CLIs: (int8 param, int8 bin, calibration seconds)."""
    method, corrections = parse_method(name)
    tag = name.replace("+", "-")
    table = os.path.join(folder, "ocr-%s.table" % tag)
    args = [param, binfile, listfile, table, *ocr.NPY_OPTIONS, "thread=%d" % thread, "method=" + method]
    adjust = []
    if corrections:
        adjust = ["adjust=" + os.path.join(folder, "ocr-%s.adjust" % tag)]
        args += ["correct=" + ",".join(corrections)] + adjust
    seconds = ocr.run_cli("model2table", args)
    out = [os.path.join(folder, "ocr-int8-%s.%s" % (tag, ext)) for ext in ("param", "bin")]
    ocr.run_cli("model2int8", [param, binfile, *out, table, *adjust])
    return out[0], out[1], seconds


def pip_column(param, binfile, inputs, chars, truths, ours):
    """pip ncnn's exact match and its string agreement with our runtime, or why there is none."""
    probs = ocr.ncnn_probs(param, binfile, inputs, int8=True)
    if not np.all(np.isfinite(probs)):
        return "NaN (issue 12)", "-"
    strings = ocr.decode(probs, chars)
    exact = np.mean([s == t for s, t in zip(strings, truths)])
    return "%.2f" % (100 * exact), "%.2f" % (100 * np.mean([s == o for s, o in zip(strings, ours)]))


def row(name, r, pip=("-", "-"), calib=None):
    pct = lambda k: "%.2f" % (100 * r[k]) if k in r else "-"  # noqa: E731
    return "| %-16s | %6s | %6s | %7s | %7s | %-14s | %7s | %7s |" % (
        name, pct("exact"), "%.2f" % (100 * r["cer"]), pct("agree"), pct("step_agree"), pip[0], pip[1],
        "-" if calib is None else "%.1f" % calib)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--limit", type=int, default=None, help="first N eval lines only")
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--mode", default="sim", choices=["sim", "fast"], help="our runtime's int8 mode")
    ap.add_argument("--no-ncnn", action="store_true", help="skip the pip ncnn columns")
    ap.add_argument("--keep", default=None, help="write models, tables and inputs to this folder and keep them")
    args = ap.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    for m in args.methods:
        try:
            parse_method(m)
        except ValueError:
            ap.error("unknown method %s (a method of %s, then +bias and/or +round)" % (m, ", ".join(BASE)))
    return args


def main():
    args = parse_args()
    chars = ocr.characters()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        param, binfile = ocr.prepare_model(folder)
        calib, _, _ = ocr.load_split("calib")
        listfile = ocr.write_npy_list(calib, folder, "calib-npy")
        inputs, truths, _ = ocr.load_split("eval", args.limit)
        fp_probs = ocr.our_probs(param, binfile, inputs, False, args.thread)
        fp_strings = ocr.decode(fp_probs, chars)
        lines = [row("fp32", ocr.scores(fp_strings, truths))]
        for name in args.methods:
            q_param, q_bin, seconds = make_int8(name, param, binfile, listfile, folder, args.thread)
            probs = ocr.our_probs(q_param, q_bin, inputs, args.mode, args.thread)
            strings = ocr.decode(probs, chars)
            pip = ("-", "-") if args.no_ncnn else pip_column(q_param, q_bin, inputs, chars, truths, strings)
            lines.append(row(name, ocr.scores(strings, truths, fp_strings, probs, fp_probs), pip, seconds))
            sys.stderr.write(lines[-1] + "\n")
    print("\n".join(common.machine_header(args.thread)))
    print("PP-OCRv4 rec on textlines/eval (%d lines), calibrated on textlines/calib (200), %d threads; int8 = our "
          "model2int8 output in our runtime (%s mode); agree = decoded strings equal fp32's, per step = argmax "
          "per CTC step equals fp32's" % (len(truths), args.thread, args.mode))
    print("| method           | exact% | CER%   | agree%  | step%   | pip ncnn exact | agree   | calib s |")
    print("|------------------|--------|--------|---------|---------|----------------|---------|---------|")
    print("\n".join(lines))
    fp32 = ocr.scores(fp_strings, truths)["exact"]
    print("target: recommended all-int8 exact >= fp32 - 0.5 pt = %.2f" % (100 * fp32 - 0.5))


if __name__ == "__main__":
    main()
