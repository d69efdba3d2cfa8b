"""Benchmark EfficientNet-Lite0 batch-1 latency, fp32 vs int8, in our runtime and in pip ncnn, side by
side in one run, and the .bin sizes. Prints one table; never fails a build.

    python tools/bench_speed.py [--table T] [--rounds 200] [--warmup 20] [--thread 2]

fp32: ../shared/reference/lite0/lite0-opt.{param,bin}. int8: that model converted by our model2int8
(ncnnlike.quant.convert, weights kept float stored fp16 as the CLI default) with --table (default the
real ncnn2table's lite0-kl.table), plus the real ncnn2int8 output lite0-int8-kl in pip ncnn. Rounds are
interleaved (each round runs every model once, in a rotating order) so that load from other jobs hits
all models alike; the latency is the median over rounds after the warm-up. pip ncnn runs with fp16 /
bf16 storage, packing and arithmetic off. Unless --no-ort, onnxruntime itself runs too, for what
this CPU allows: the source efficientnet-lite0.onnx in fp32, and its QDQ int8 made by onnxruntime's
quantize_static (u8 activations, s8 per-channel weights, calibrated on 20 calib.txt images; its
AVX2 u8s8 kernels may saturate, so it is a speed reference, not an exact one). Idle threads of every
runtime sleep (no spinning into the next runner's turn). Targets (DESIGN): our int8 >= 2x faster
than our fp32; int8 .bin <= 30% of fp32.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tools import common  # noqa: E402

SPEED_TARGET, SIZE_TARGET = 2.0, 0.30


def our_runner(param, binfile, int8, image, threads):
    """A zero-argument call running one batch-1 inference in our runtime."""
    net = common.our_net(param, binfile, int8, threads)
    net.opt.openmp_blocktime = 0      # idle threads sleep: no spinning into the next runner's turn
    feed = {common.INPUT: image[None]}
    return lambda: net.run(feed, [common.OUTPUT])


def ncnn_runner(param, binfile, int8, image, threads):
    """A zero-argument call running one inference in pip ncnn (input Mat cloned per run, as in use)."""
    net = common.ncnn_net(param, binfile, int8, threads)
    net.opt.openmp_blocktime = 0      # likewise for ncnn's OpenMP threads
    return lambda: common.ncnn_run(net, image)


def ort_runners(folder, image, threads):
    """{(onnxruntime, fp32|int8 QDQ): runner} and {same keys: .onnx size} for the source Lite0 ONNX."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    source = os.path.join(common.SHARED, "models", "efficientnet-lite0.onnx")
    name = onnx.load(source, load_external_data=False).graph.input[0].name
    calib = common.eval_inputs(common.list_paths("calib.txt", 20))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.samples = iter(calib)

        def get_next(self):
            x = next(self.samples, None)
            return None if x is None else {name: x[None]}

    qdq = os.path.join(folder, "lite0-qdq.onnx")
    quantize_static(source, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    import onnxruntime as ort
    runners, sizes = {}, {}
    for model, path in (("fp32", source), ("int8 QDQ (quantize_static)", qdq)):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {name: image[None]}
        runners[("onnxruntime", model)] = lambda sess=sess, feed=feed: sess.run(None, feed)
        sizes[("onnxruntime", model)] = os.path.getsize(path)
    return runners, sizes


def measure(runners, rounds, warmup):
    """Interleaved timing: name -> array of per-round seconds (after `warmup` untimed rounds)."""
    names = list(runners)
    times = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            runners[name]()
            if r >= warmup:
                times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=os.path.join(common.LITE0, "lite0-kl.table"))
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--thread", type=int, default=2)
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime reference rows")
    args = ap.parse_args()
    image = common.eval_input(common.list_paths("eval.txt", 1)[0])
    real_param, real_bin = (os.path.join(common.LITE0, "lite0-int8-kl." + ext) for ext in ("param", "bin"))
    with tempfile.TemporaryDirectory() as tmp:
        int8_param, int8_bin = common.make_int8(args.table, os.path.join(tmp, "int8.param"),
                                                os.path.join(tmp, "int8.bin"))
        fp32 = (common.FP32_PARAM, common.FP32_BIN)
        runners = {
            ("ours", "fp32"): our_runner(*fp32, False, image, args.thread),
            ("ours", "int8"): our_runner(int8_param, int8_bin, True, image, args.thread),
            ("ours", "int8 fast"): our_runner(int8_param, int8_bin, "fast", image, args.thread),
            ("pip ncnn", "fp32"): ncnn_runner(*fp32, False, image, args.thread),
            ("pip ncnn", "int8"): ncnn_runner(int8_param, int8_bin, True, image, args.thread),
            ("pip ncnn", "int8 real ncnn2int8"): ncnn_runner(real_param, real_bin, True, image, args.thread),
        }
        size_ours = os.path.getsize(int8_bin)
        sizes = {(r, m): os.path.getsize(common.FP32_BIN) if m == "fp32" else size_ours for r, m in runners}
        sizes[("pip ncnn", "int8 real ncnn2int8")] = os.path.getsize(real_bin)
        if not args.no_ort:
            extra, extra_sizes = ort_runners(tmp, image, args.thread)
            runners.update(extra)
            sizes.update(extra_sizes)
        load_before = os.getloadavg()[0]
        times = measure(runners, args.rounds, args.warmup)
        load_after = os.getloadavg()[0]
    size_fp32 = os.path.getsize(common.FP32_BIN)
    print("EfficientNet-Lite0 batch-1 latency, %d threads, median of %d interleaved rounds after %d warm-up; "
          "int8 table %s; load average %.1f -> %.1f (other jobs skew it, pip ncnn's OpenMP most)"
          % (args.thread, args.rounds, args.warmup, os.path.basename(args.table), load_before, load_after))
    print("| runtime     | model                      | median ms | p10 ms | p90 ms | fp32/int8 | our fp32/this "
          "| file MB | int8/fp32 size |")
    print("|-------------|----------------------------|-----------|--------|--------|-----------|---------------"
          "|---------|----------------|")
    ours_fp32 = np.median(times[("ours", "fp32")])
    for (runtime, model), t in times.items():
        ms = 1000 * t
        ratio = "-" if model == "fp32" else "%.2fx" % (np.median(times[(runtime, "fp32")]) / np.median(t))
        size = "-" if model == "fp32" else "%.1f %%" % (100 * sizes[(runtime, model)] / sizes[(runtime, "fp32")])
        print("| %-11s | %-26s | %9.2f | %6.2f | %6.2f | %9s | %12.2fx | %7.2f | %14s |"
              % (runtime, model, np.median(ms), np.percentile(ms, 10), np.percentile(ms, 90), ratio,
                 ours_fp32 / np.median(t), sizes[(runtime, model)] / 1e6, size))
    speed = np.median(times[("ours", "fp32")]) / min(np.median(times[("ours", m)]) for m in ("int8", "int8 fast"))
    print("target: our int8 >= %.1fx faster than our fp32: %.2fx -> %s"
          % (SPEED_TARGET, speed, "PASS" if speed >= SPEED_TARGET else "FAIL"))
    print("target: int8 .bin <= %d %% of fp32: %.1f %% -> %s"
          % (100 * SIZE_TARGET, 100 * size_ours / size_fp32, "PASS" if size_ours <= SIZE_TARGET * size_fp32 else "FAIL"))


if __name__ == "__main__":
    main()
