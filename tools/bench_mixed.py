"""Benchmark automatic mixed precision on EfficientNet-Lite0 or PP-OCRv4 rec: the all-int8 and the
mixed model's accuracy on images the search never saw, the layers kept float, and the search time.
Prints one table; never fails a build.

    python tools/bench_mixed.py [--model lite0|ocr] [--method auto] [--correct bias] [--table T]
                                [--target auto[,0.99,...]] [--metric agreement|cosine] [--rank both]
                                [--rank-images 16] [--search fast|exact] [--thread 2] [--no-ncnn]
                                [--out mixed.table]

The table: our model2table (--method, --correct: the library calls of the CLI) on the calibration
set, or a given file (--table; lite0: e.g. ../shared/reference/lite0/lite0-kl.table). The search
runs as model-compare does: on the calibration set with every 4th sample held apart (Lite0:
calib.txt, 75 + 25 images, model2table's preprocessing; OCR: textlines/calib, 150 + 50 lines,
RapidOCR's), the ranking from cached activations on --rank-images of them, trials on the fast int8
kernels, the answer confirmed in ncnn's int8 arithmetic ("sim"). Then both models are scored in our
runtime (sim) on the evaluation set, which neither calibration nor search used (Lite0: eval.txt 400
images, README preprocessing, top-1; OCR: textlines/eval 300 lines, exact match), and, unless
--no-ncnn, the same files in pip ncnn (its accuracy and its agreement with our runtime: top-1 or
decoded string). --target auto is model-compare's default (quant/mixed_auto.py: a layer is kept
float only for a real gain on the held-apart samples); a number is an absolute target on the
search samples. With several targets, later ones reuse the trials of earlier ones (their time is
the extra search only).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common, ocr  # noqa: E402
from ncnnlike.io.atomic import atomic_open  # noqa: E402
from ncnnlike.io.model import load_model, save_model  # noqa: E402
from ncnnlike.quant.adjustfile import read_adjust, write_adjust  # noqa: E402
from ncnnlike.quant.compare import reference_outputs  # noqa: E402
from ncnnlike.quant.convert import quantize_graph  # noqa: E402
from ncnnlike.quant.mixed import held_apart  # noqa: E402
from ncnnlike.quant.mixed_auto import best_grown  # noqa: E402
from ncnnlike.quant.sensitivity import Trials, best_mixed, mixed_table_text, quick_sensitivity  # noqa: E402
from ncnnlike.quant.tablefile import read_table, write_table  # noqa: E402
from ncnnlike.runtime import Net  # noqa: E402

LITE0_OPTIONS = dict(o.split("=", 1) for o in common.CALIB_OPTIONS)
HOLDOUT = 4


class Lite0:
    """EfficientNet-Lite0: calib.txt for calibration and search, eval.txt (top-1) for scoring."""
    name, input = "EfficientNet-Lite0", common.INPUT

    def __init__(self, args, folder):
        from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
        self.param, self.bin = common.FP32_PARAM, common.FP32_BIN
        self.graph = load_model(self.param, self.bin)
        self.calib_list = os.path.join(common.SAMPLE, "calib.txt")
        self.options = LITE0_OPTIONS
        prep = parse_preprocess(LITE0_OPTIONS, self.graph.input_names())
        lists = read_lists([self.calib_list])
        self.calib = np.concatenate([b[common.INPUT] for b in iter_batches(lists, prep, 20, args.thread)])
        paths = common.list_paths("eval.txt")
        self.eval, self.labels = common.eval_inputs(paths, args.thread), common.labels_for(paths)

    def score(self, graph, int8, threads):
        """(top-1 on eval, predictions)."""
        net = Net.from_graph(graph)
        net.opt.num_threads, net.opt.use_int8_inference = threads, int8
        pred = common.our_logits(net, self.eval).argmax(1)
        return float(np.mean(pred == self.labels)), pred

    def pip_score(self, param, binfile):
        """(top-1 on eval, predictions) of pip ncnn on the int8 files."""
        pred = common.ncnn_logits(common.ncnn_net(param, binfile, True, threads=1), self.eval).argmax(1)
        return float(np.mean(pred == self.labels)), pred


class Ocr:
    """PP-OCRv4 rec: textlines/calib for calibration and search, textlines/eval (exact match) for scoring."""
    name, input = "PP-OCRv4 rec", ocr.INPUT

    def __init__(self, args, folder):
        self.param, self.bin = ocr.prepare_model(folder)
        self.graph = load_model(self.param, self.bin)
        self.calib, _, _ = ocr.load_split("calib")
        self.calib_list = ocr.write_npy_list(self.calib, folder, "calib-npy")
        self.options = dict(o.split("=", 1) for o in ocr.NPY_OPTIONS)
        self.eval, self.truths, _ = ocr.load_split("eval")
        self.chars = ocr.characters()

    def score(self, graph, int8, threads):
        """(exact match on eval, decoded strings)."""
        net = Net.from_graph(graph)
        net.opt.num_threads, net.opt.use_int8_inference = threads, int8
        out = net.output_names()[0]
        probs = np.concatenate([net.run({ocr.INPUT: self.eval[i:i + 20]}, [out])[out]
                                for i in range(0, len(self.eval), 20)])
        return self._scored(probs)

    def pip_score(self, param, binfile):
        """(exact match on eval, decoded strings) of pip ncnn on the int8 files."""
        return self._scored(ocr.ncnn_probs(param, binfile, self.eval, True))

    def _scored(self, probs):
        strings = ocr.decode(probs, self.chars)
        return float(np.mean([s == t for s, t in zip(strings, self.truths)])), np.array(strings, dtype=object)


def make_table(model, args, folder):
    """(table path, adjust entries or None): a given file, or our calibration on the calibration set."""
    if args.table:
        return args.table, (read_adjust(args.adjust) if args.adjust else None)
    from ncnnlike.cli.model2table import calibrate
    corrections = tuple(c for c in ("bias", "round") if c in (args.correct or "").split(","))
    start = time.perf_counter()
    result = calibrate(model.graph, [model.calib_list], model.options, args.method, {}, args.thread, 4, None,
                       corrections)
    sys.stderr.write("calibration (%s%s): %.1f s\n" % (args.method, "+" + "+".join(corrections) if corrections
                                                       else "", time.perf_counter() - start))
    path = os.path.join(folder, "%s.table" % args.method)
    write_table(path, *result[:3])
    if corrections:
        write_adjust(path + ".adjust", result[5])
    return path, (result[5] if corrections else None)


def batches_of(name, inputs, indices, size=8):
    """Input batches {name: (N, ...)} of the samples at `indices`."""
    return [{name: inputs[indices[i:i + size]]} for i in range(0, len(indices), size)]


def progress(done, total):
    sys.stderr.write("\rsensitivity %d/%d" % (done, total) + ("\n" if done == total else ""))
    sys.stderr.flush()


def search(model, table, adjust, args, target, state):
    """model-compare's search on the calibration set, every HOLDOUT-th sample held apart."""
    n = len(model.calib)
    search_idx = [i for i in range(n) if i % HOLDOUT != HOLDOUT - 1]
    held_idx = [i for i in range(n) if i % HOLDOUT == HOLDOUT - 1]
    if not state:
        start, cpu = time.perf_counter(), time.process_time()
        fp = Net.from_graph(model.graph)
        fp.opt.num_threads, fp.opt.use_int8_inference = args.thread, False
        batches, held = (batches_of(model.input, model.calib, idx) for idx in (search_idx, held_idx))
        ref, held_ref = reference_outputs(fp, batches), reference_outputs(fp, held)
        mode = "fast" if args.search == "fast" else "sim"
        state["trials"] = Trials(model.graph, table, batches, ref, args.thread, mode, adjust, args.metric)
        state["verify"] = None if mode == "sim" else \
            Trials(model.graph, table, batches, ref, args.thread, "sim", adjust, args.metric)
        state["held"] = Trials(model.graph, table, held, held_ref, args.thread, "sim", adjust, args.metric)
        modes = ("float_one", "quantize_one") if args.rank == "both" else (args.rank,)
        state["found"], state["rank_samples"] = quick_sensitivity(state["trials"], batches, modes, progress,
                                                                  samples=args.rank_images)
        state["modes"], state["prepared"] = modes, (time.perf_counter() - start, time.process_time() - cpu)
        state["counts"] = (len(search_idx), len(held_idx))
    start, cpu = time.perf_counter(), time.process_time()
    if target == "auto":
        result, order = best_grown(state["trials"], state["found"], state["modes"], state["held"], state["verify"])
    else:
        result, order = best_mixed(state["trials"], state["found"], state["modes"], target, state["verify"])
        held_apart(result, state["held"])
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    sys.stderr.write("target %s: %d float layers, search %.1f s (cpu %.1f s)\n"
                     % (target, len(result.float_layers), *seconds))
    return result, order, seconds


def pip_figures(model, graph, name, folder, ours):
    """(pip ncnn's accuracy, % of its predictions equal to our runtime's) of `graph` saved as int8 files."""
    param, binfile = (os.path.join(folder, "%s.%s" % (name, ext)) for ext in ("param", "bin"))
    save_model(graph, param, binfile)
    score, pred = model.pip_score(param, binfile)
    return score, 100.0 * float(np.mean(pred == ours))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lite0", choices=["lite0", "ocr"])
    ap.add_argument("--method", default="auto")
    ap.add_argument("--correct", default="bias", help="bias, round, bias,round or none")
    ap.add_argument("--table", help="a table file instead of our calibration")
    ap.add_argument("--adjust", help="with --table: its weights-adjustment file")
    ap.add_argument("--target", default="auto", help="auto (model-compare's default) or an argmax agreement "
                    "(top-1 / per step) on the search samples; several: auto,0.99")
    ap.add_argument("--metric", default="agreement", choices=["agreement", "cosine"])
    ap.add_argument("--rank", default="both", choices=["both", "float_one", "quantize_one"])
    ap.add_argument("--rank-images", type=int, default=16)
    ap.add_argument("--search", default="fast", choices=["fast", "exact"])
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--no-ncnn", action="store_true", help="skip the pip ncnn columns")
    ap.add_argument("--out")
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="bench_mixed-")
    model = (Lite0 if args.model == "lite0" else Ocr)(args, folder)
    path, adjust = make_table(model, args, folder)
    table = read_table(path)
    fp_score, fp_pred = model.score(model.graph, False, args.thread)
    int8_graph = quantize_graph(model.graph, table, adjust)[0]
    int8_score, int8_pred = model.score(int8_graph, "sim", args.thread)
    pip = {} if args.no_ncnn else {"all int8": pip_figures(model, int8_graph, "int8", folder, int8_pred)}
    rows, state = [], {}
    for target in [t if t == "auto" else float(t) for t in args.target.split(",")]:
        result, order, seconds = search(model, table, adjust, args, target, state)
        text = mixed_table_text(open(path).read(), table, result, state["found"], order, state["counts"][0])
        out = args.out or os.path.join(folder, "mixed-%s.table" % target)
        with atomic_open(out, "w") as f:
            f.write(text)
        mixed = quantize_graph(model.graph, read_table(out), adjust)[0]
        score, pred = model.score(mixed, "sim", args.thread)
        if not args.no_ncnn:
            pip[target] = pip_figures(model, mixed, "mixed-%s" % target, folder, pred)
        if not rows:      # the first search's time includes the ranking
            seconds = tuple(a + b for a, b in zip(seconds, state["prepared"]))
        rows.append((target, result, score, pred, seconds, len(order)))
    print_table(model, args, path, fp_score, fp_pred, int8_score, int8_pred, rows, state, pip)


def print_table(model, args, path, fp_score, fp_pred, int8_score, int8_pred, rows, state, pip):
    agree = lambda pred: 100.0 * np.mean(pred == fp_pred)  # noqa: E731
    what = "top-1" if args.model == "lite0" else "exact"
    print("\n".join(common.machine_header(args.thread)))
    search_n, held_n = state["counts"]
    corrected = args.correct not in (None, "", "none") and not args.table
    print("%s, table %s%s, metric=%s rank=%s search=%s (confirmed in ncnn's arithmetic), %d threads" % (
        model.name, os.path.basename(path), " + adjustments" if corrected else "", args.metric, args.rank,
        args.search, args.thread))
    print("search on %d calibration samples, %d held apart; ranking from cached activations on %d of them in %.1f s; "
          "%s and agreement on the %d evaluation samples (never searched on); pip ncnn: the same files"
          % (search_n, held_n, state["rank_samples"], state["prepared"][0], what, len(fp_pred)))
    print("time: wall (process CPU) seconds of the search, the first row's with the ranking; a later row's its "
          "extra search only")
    line = "| %-16s | %7s | %8s | %8s | %9s | %8s | %-36s | %-36s | %7s | %9s |"
    print(line % ("model", what, "vs fp32", "agree %", "pip " + what, "pip=ours", "search samples",
                  "held-apart samples", "float", "time s"))
    print("|%s|" % "|".join("-" * w for w in (18, 9, 10, 10, 11, 10, 38, 38, 9, 11)))
    print(line % ("fp32", "%.2f" % (100 * fp_score), "", "", "", "", "", "", "", ""))
    first = rows[0][1]
    print(line % ("all int8", "%.2f" % (100 * int8_score), "%+.2f" % (100 * (int8_score - fp_score)),
                  "%.2f" % agree(int8_pred), *_pip(pip.get("all int8")), _short(first.before),
                  _short(first.held_before), "0", ""))
    for target, result, score, pred, seconds, total in rows:
        print(line % ("mixed %s%s" % (target, "" if result.met else " (miss)"), "%.2f" % (100 * score),
                      "%+.2f" % (100 * (score - fp_score)), "%.2f" % agree(pred), *_pip(pip.get(target)),
                      _short(result.after), _short(result.held_after), "%d/%d" % (len(result.float_layers), total),
                      "%.0f (%.0f)" % seconds))
        print("  kept float (%s ranking): %s" % (result.ranking, ", ".join(result.float_layers) or "-"))
        print("  search steps: %s" % "; ".join(_step(step, score) for step, score in result.steps))


def _step(step, score):
    """One step of a search log: 'first 2 float 98.70%', 'held-apart: keep first 1 float 98.65%'."""
    return "%s %.2f%%" % (step if isinstance(step, str) else "first %d float" % step, 100 * score)


def _pip(figures):
    """The pip ncnn cells: accuracy, % of predictions equal to ours."""
    return ("-", "-") if figures is None else ("%.2f" % (100 * figures[0]), "%.2f" % figures[1])


def _short(trial):
    """'argmax 98.41% (str 85.33%) cos 0.9912' of a trial: its score, the decoded-sequence agreement
    of a sequence output, the output cosine."""
    if trial is None:
        return "-"
    decoded = " (str %.2f%%)" % (100 * trial.agreement) if trial.agreement != trial.fine else ""
    return "argmax %.2f%%%s cos %.4f" % (100 * trial.fine, decoded, trial.cosine)


if __name__ == "__main__":
    main()
