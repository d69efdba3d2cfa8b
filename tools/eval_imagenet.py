"""Evaluate EfficientNet-Lite0 int8 on ImageNet-sample eval.txt: top-1 / top-5, top-1 agreement and
logit cosine vs fp32, per calibration method. Prints one table; never fails a build.

    python tools/eval_imagenet.py [--methods kl,aciq,eq,minmax,percentile,mse,auto,auto+bias,auto+bias+round,
                                             ncnn-kl,ncnn-aciq] [--limit N] [--thread 2] [--no-ncnn] [--keep DIR]

fp32 model: ../shared/reference/lite0/lite0-opt.{param,bin} (the real ncnnoptimize output, from which
the real ncnn tables were made). Each method `m` runs the user flow: `python -m ncnnlike.cli.model2table`
on calib.txt (100 images, model2table's ncnn preprocessing, thread=2, method=m; `m+bias`, `m+round`,
`m+bias+round` add correct=... adjust=...), then `python -m ncnnlike.cli.model2int8` (adjust=). `ncnn-kl` / `ncnn-aciq` convert the real ncnn2table tables
(lite0-kl.table, lite0-aciq.table) with our model2int8. Every int8 model runs in our int8 runtime
(scored) and, unless --no-ncnn, in pip ncnn with one thread (column "pip ncnn top-1"). Evaluation uses the README
preprocessing (tools/common.eval_input). Targets come from ../shared/reference/lite0/eval_summary.json
(real ncnn2table + ncnn2int8 in pip ncnn); they apply to the full 400 images only.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common  # noqa: E402

OUR_METHODS = ["kl", "aciq", "eq", "minmax", "percentile", "mse", "auto", "auto+bias", "auto+bias+round"]
CORRECTIONS = ("bias", "round")
NCNN_TABLES = {"ncnn-kl": "lite0-kl.table", "ncnn-aciq": "lite0-aciq.table"}
TOP1_MARGIN = 0.005  # DESIGN quality bar: best int8 top-1 within 0.5 pt of fp32


def run_cli(name, args):
    """`python -m ncnnlike.cli.<name> args`; stops the tool with its stderr tail on failure."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "ncnnlike.cli." + name, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("%s %s failed (exit %d):\n%s" % (name, " ".join(args), out.returncode, out.stderr[-3000:]))
    return time.perf_counter() - t0


def known(name):
    """A method of ours, optionally with +bias / +round, or a real ncnn table."""
    parts = name.split("+")
    return name in NCNN_TABLES or (parts[0] in OUR_METHODS and all(p in CORRECTIONS for p in parts[1:]))


def make_table(name, listfile, folder, thread):
    """Our model2table on calib.txt with ncnn2table's preprocessing: (table path, adjust args, seconds)."""
    parts, tag = name.split("+"), name.replace("+", "-")
    table = os.path.join(folder, "lite0-%s.table" % tag)
    adjust = ["adjust=" + os.path.join(folder, "lite0-%s.adjust" % tag)] if len(parts) > 1 else []
    correct = ["correct=" + ",".join(parts[1:])] if adjust else []
    seconds = run_cli("model2table", [common.FP32_PARAM, common.FP32_BIN, listfile, table, *common.CALIB_OPTIONS,
                                      "thread=%d" % thread, "method=" + parts[0], *correct, *adjust])
    return table, adjust, seconds


def make_int8(name, table, folder, adjust=()):
    """Our model2int8 CLI on the fp32 model with `table` (and adjust=) -> (param, bin)."""
    tag = name.replace("+", "-")
    param, binfile = (os.path.join(folder, "lite0-int8-%s.%s" % (tag, ext)) for ext in ("param", "bin"))
    run_cli("model2int8", [common.FP32_PARAM, common.FP32_BIN, param, binfile, table, *adjust])
    return param, binfile


def evaluate(param, binfile, int8, inputs, labels, reference, args):
    """Scores of one model in our runtime (+ pip ncnn top-1 unless --no-ncnn)."""
    logits = common.our_logits(common.our_net(param, binfile, int8, args.thread), inputs)
    result = common.scores(logits, labels, reference)
    if not args.no_ncnn:
        # one thread: same results, and pip ncnn's OpenMP threads crawl when other jobs share the cores
        ncnn_logits = common.ncnn_logits(common.ncnn_net(param, binfile, int8, threads=1), inputs)
        result["ncnn_top1"] = common.topk_hits(ncnn_logits, labels, 1)
        result["ncnn_agree"] = float(np.mean(ncnn_logits.argmax(1) == logits.argmax(1)))
    return logits, result


def pct(x):
    return "-" if x is None else "%.2f" % (100 * x)


def row(name, source, r, calib_s=None):
    cos = "-" if "cos_mean" not in r else "%.4f (%.4f)" % (r["cos_mean"], r["cos_min"])
    agree = pct(r.get("agree"))
    calib = "-" if calib_s is None else "%.1f" % calib_s
    return "| %-16s | %-22s | %6s | %6s | %8s | %-17s | %14s | %10s | %7s |" % (
        name, source, pct(r["top1"]), pct(r["top5"]), agree, cos, pct(r.get("ncnn_top1")), pct(r.get("ncnn_agree")),
        calib)


def target_lines(results, reference, n):
    """The DESIGN / brief targets beside the measured figures."""
    lines = []
    fp32 = reference["fp32"]["top1"]
    int8 = {k: v for k, v in results.items() if k != "fp32"}
    if int8:
        best = max(int8, key=lambda k: int8[k]["top1"])
        bar = results["fp32"]["top1"] - TOP1_MARGIN
        lines.append("target: best int8 top-1 >= our fp32 - 0.5 pt = %s (reference fp32 %s): best %s %s -> %s"
                     % (pct(bar), pct(fp32), best, pct(int8[best]["top1"]),
                        "PASS" if int8[best]["top1"] >= bar - 1e-9 else "FAIL"))
    for ours, real in (("kl", "int8_kl"), ("aciq", "int8_aciq")):
        if ours in results:
            bar = reference[real]["top1"]
            lines.append("target: our %s top-1 >= real ncnn %s table in pip ncnn %s: %s -> %s"
                         % (ours, ours, pct(bar), pct(results[ours]["top1"]),
                            "PASS" if results[ours]["top1"] >= bar - 1e-9 else "FAIL"))
    if n != reference["fp32"]["n"]:
        lines.append("note: %d images, the reference figures are for %d: targets are indicative only"
                     % (n, reference["fp32"]["n"]))
    return lines


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(OUR_METHODS + list(NCNN_TABLES)),
                    help="comma list of %s" % ", ".join(OUR_METHODS + list(NCNN_TABLES)))
    ap.add_argument("--limit", type=int, default=None, help="first N eval images only")
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--no-ncnn", action="store_true", help="skip the pip ncnn column")
    ap.add_argument("--keep", default=None, help="write tables and int8 models to this folder and keep them")
    args = ap.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in args.methods if not known(m)]
    if unknown:
        ap.error("unknown method(s) %s" % ", ".join(unknown))
    return args


def main():
    args = parse_args()
    with open(os.path.join(common.LITE0, "eval_summary.json")) as f:
        reference = json.load(f)
    paths = common.list_paths("eval.txt", args.limit)
    labels = common.labels_for(paths)
    inputs = common.eval_inputs(paths, args.thread)
    reference_logits, fp32 = evaluate(common.FP32_PARAM, common.FP32_BIN, False, inputs, labels, None, args)
    results, lines = {"fp32": fp32}, [row("fp32", "lite0-opt", fp32)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or tmp
        os.makedirs(folder, exist_ok=True)
        listfile = common.write_list(common.list_paths("calib.txt"), tmp, "calib-abs.txt")
        for method in args.methods:
            adjust = []
            if method in NCNN_TABLES:
                table, calib_s, source = os.path.join(common.LITE0, NCNN_TABLES[method]), None, NCNN_TABLES[method]
            else:
                table, adjust, calib_s = make_table(method, listfile, folder, args.thread)
                source = "model2table calib.txt"
            param, binfile = make_int8(method, table, folder, adjust)
            _, results[method] = evaluate(param, binfile, "sim", inputs, labels, reference_logits, args)
            lines.append(row(method, source, results[method], calib_s))
            sys.stderr.write(lines[-1] + "\n")
    print("\n".join(common.machine_header(args.thread)))
    print("EfficientNet-Lite0 on eval.txt (%d images), README preprocessing, %d threads; int8 = our model2int8 "
          "output in our runtime (sim: ncnn's int8 arithmetic); agree/cos vs our fp32; pip=ours: top-1 of pip "
          "ncnn equals ours" % (len(paths), args.thread))
    print("| model            | table                  | top-1  | top-5  | agree %  | cos mean (min)    | pip ncnn top-1 | pip=ours % | calib s |")
    print("|------------------|------------------------|--------|--------|----------|-------------------|----------------|------------|---------|")
    print("\n".join(lines))
    print("\n".join(target_lines(results, reference, len(paths))))


if __name__ == "__main__":
    main()
