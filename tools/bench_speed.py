"""Benchmark EfficientNet-Lite0 batch-1 latency, fp32 vs int8, in our runtime and in pip ncnn, side by
side in one run, at 1 and 2 threads, and the .bin sizes. Prints one table; never fails a build.

    python tools/bench_speed.py [--table T] [--rounds 100] [--warmup 10] [--threads 1,2] [--no-ort]
                                [--idle sleep|spin] [--block 10]

fp32: ../shared/reference/lite0/lite0-opt.{param,bin}. int8: that model converted by our model2int8
(ncnnlike.quant.convert, weights kept float stored fp16 as the CLI default) with --table (default the
real ncnn2table's lite0-kl.table), plus the real ncnn2int8 output lite0-int8-kl in pip ncnn. Our
runtime runs int8 in its three modes: the default "fast" (onnxruntime's integer kernels), "exact"
(pip ncnn inside: its answers bit for bit) and "sim" (ncnn's int8 arithmetic in onnxruntime float
ops), and the fast mode once more with our integer kernels off (onnxruntime's alone: what a CPU
without AVX512-VNNI and VBMI runs; timed here, with the kernels onnxruntime picks for this CPU). Rounds are interleaved (each round runs every runner once, in a rotating order) so that load
from other jobs hits all alike; the latency is the median over rounds after the warm-up, beside the
median CPU time of the process (all its threads), which other jobs on the cores disturb far less
than the wall time (a loaded 2-core machine moves wall ratios by 0.1). pip ncnn
runs with fp16 / bf16 storage, packing and arithmetic off. Unless --no-ort, onnxruntime itself runs
too: the source efficientnet-lite0.onnx in fp32, and its QDQ int8 made by onnxruntime's
quantize_static (u8 activations, s8 per-channel weights, calibrated on 20 calib.txt images), a speed
reference for what onnxruntime's own int8 reaches on this CPU; with the openvino package installed
(not a dependency), OpenVINO runs those two files too. Idle threads of every runtime sleep
(no spinning into the next runner's turn). With --idle spin, every runtime keeps its own default
instead (our runtime's and ncnn's openmp_blocktime of 20 ms, onnxruntime's spinning pool, libgomp's
default wait policy), which is what a program calling one model after another gets: then each round
runs every runner for a block of --block runs, after a 50 ms pause that lets the previous runner's
threads go idle, and the first run of each block is not counted (it pays the wake-up from the
pause); the CPU column then counts the spinning too. At 2 threads on a VM the two policies differ
most: each split of a layer first wakes a sleeping thread (pip ncnn at 2 threads took 14.7 ms
sleeping, 7.1 spinning, in two runs an hour apart). Targets (DESIGN): the default int8 <= 0.45x our
fp32 time on a CPU with VNNI (as close as the CPU allows without); exact int8 <= 1.5x pip ncnn's
int8 time; int8 .bin <= 30% of fp32. The header names the CPU, its flags and the load average.
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

FAST_TARGET, EXACT_TARGET, SIZE_TARGET = 0.45, 1.5, 0.30


def our_runner(param, binfile, int8, image, threads, spin=False):
    """A zero-argument call running one batch-1 inference in our runtime."""
    net = common.our_net(param, binfile, int8, threads)
    if not spin:
        net.opt.openmp_blocktime = 0      # idle threads sleep: no spinning into the next runner's turn
    feed = {common.INPUT: image[None]}
    return lambda: net.run(feed, [common.OUTPUT])


def ort_kernels_runner(param, binfile, image, threads, spin=False):
    """Our default int8 mode with our integer kernels turned off, on onnxruntime's alone: the graph a
    CPU without AVX512-VNNI and VBMI (an AVX2 one) runs, timed on this CPU (so with the kernels
    onnxruntime picks here: VNNI ones on a VNNI CPU, not an AVX2 machine's figure)."""
    from ncnnlike.layers import dw_vnni
    run = our_runner(param, binfile, True, image, threads, spin)
    saved = dw_vnni.library
    dw_vnni.library = lambda: None
    try:
        run()           # the session is built, and kept, now: its graph has none of our ops
    finally:
        dw_vnni.library = saved
    return run


def ncnn_runner(param, binfile, int8, image, threads, spin=False):
    """A zero-argument call running one inference in pip ncnn (input Mat cloned per run, as in use)."""
    net = common.ncnn_net(param, binfile, int8, threads)
    if not spin:
        net.opt.openmp_blocktime = 0      # likewise for ncnn's OpenMP threads
    return lambda: common.ncnn_run(net, image)


SOURCE_ONNX = os.path.join(common.SHARED, "models", "efficientnet-lite0.onnx")


def make_qdq(folder):
    """onnxruntime's own QDQ int8 of the source Lite0 ONNX (quantize_static: u8 activations, s8
    per-channel weights, 20 calib.txt images): (path, input name)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    name = onnx.load(SOURCE_ONNX, load_external_data=False).graph.input[0].name
    calib = common.eval_inputs(common.list_paths("calib.txt", 20))

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.samples = iter(calib)

        def get_next(self):
            x = next(self.samples, None)
            return None if x is None else {name: x[None]}

    qdq = os.path.join(folder, "lite0-qdq.onnx")
    quantize_static(SOURCE_ONNX, qdq, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return qdq, name


def ort_runners(folder, image, threads, spin=False):
    """{(onnxruntime, fp32|int8 QDQ): runner} and {same keys: .onnx size} for the source Lite0 ONNX."""
    qdq, name = make_qdq(folder)
    source = SOURCE_ONNX
    import onnxruntime as ort
    runners, sizes = {}, {}
    for model, path in (("fp32", source), ("int8 QDQ (quantize_static)", qdq)):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        if not spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {name: image[None]}
        runners[("onnxruntime", model)] = lambda sess=sess, feed=feed: sess.run(None, feed)
        sizes[("onnxruntime", model)] = os.path.getsize(path)
    return runners, sizes


def openvino_runners(folder, image, threads, spin=False):
    """{(openvino, fp32|int8 QDQ): runner} for the same two ONNX files as ort_runners (which makes the
    QDQ one first), when the openvino package is installed: not a dependency, a second engine's own
    int8 on this CPU for reference. Empty without it. OpenVINO keeps its own idle policy either way
    (`spin` is taken for the runners' common signature)."""
    runners, sizes = {}, {}
    for model, path in (("fp32", SOURCE_ONNX), ("int8 QDQ (quantize_static)", os.path.join(folder, "lite0-qdq.onnx"))):
        request = common.openvino_request(path, threads)
        if request is None:
            return {}, {}
        feed = {0: image[None]}
        runners[("openvino", model)] = lambda request=request, feed=feed: request.infer(feed)
        sizes[("openvino", model)] = os.path.getsize(path)
    return runners, sizes


def measure(runners, rounds, warmup, block=1, pause=0.0):
    """Interleaved timing: (name -> per-run wall seconds, name -> per-run CPU seconds of this
    process, all its threads), after `warmup` untimed rounds. A round runs each runner `block` times
    in a row (after `pause` seconds idle; with a block, its first run is not counted). The CPU time
    is what a run costs whatever else the cores are doing: on a shared machine it varies far less
    than the wall time."""
    names = list(runners)
    wall, cpu = {name: [] for name in names}, {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            time.sleep(pause)
            for k in range(block):
                t0, c0 = time.perf_counter(), time.process_time()
                runners[name]()
                if r >= warmup and (k > 0 or block == 1):
                    wall[name].append(time.perf_counter() - t0)
                    cpu[name].append(time.process_time() - c0)
    return ({name: np.array(t) for name, t in wall.items()}, {name: np.array(t) for name, t in cpu.items()})


def runners_for(threads, image, int8_pair, real_pair, folder, ort_too, spin=False):
    """{(runtime, model, threads): runner} and {same: file bytes} for one thread count."""
    fp32 = (common.FP32_PARAM, common.FP32_BIN)
    runners = {
        ("ours", "fp32"): our_runner(*fp32, False, image, threads, spin),
        ("ours", "int8 fast (default)"): our_runner(*int8_pair, True, image, threads, spin),
        ("ours", "int8 exact (pip ncnn)"): our_runner(*int8_pair, "exact", image, threads, spin),
        ("ours", "int8 sim"): our_runner(*int8_pair, "sim", image, threads, spin),
        ("ours", "int8 fast, onnxruntime's kernels only"): ort_kernels_runner(*int8_pair, image, threads, spin),
        ("pip ncnn", "fp32"): ncnn_runner(*fp32, False, image, threads, spin),
        ("pip ncnn", "int8"): ncnn_runner(*int8_pair, True, image, threads, spin),
        ("pip ncnn", "int8 real ncnn2int8"): ncnn_runner(*real_pair, True, image, threads, spin),
    }
    sizes = {key: os.path.getsize(common.FP32_BIN if key[1] == "fp32" else int8_pair[1]) for key in runners}
    sizes[("pip ncnn", "int8 real ncnn2int8")] = os.path.getsize(real_pair[1])
    if ort_too:
        for make in (ort_runners, openvino_runners):
            extra, extra_sizes = make(folder, image, threads, spin)
            runners.update(extra)
            sizes.update(extra_sizes)
    return ({key + (threads,): r for key, r in runners.items()}, {key + (threads,): v for key, v in sizes.items()})


def print_table(times, cpu, sizes, thread_counts):
    """One table: every runner at every thread count, wall and CPU time, with the ratios to fp32."""
    print("| runtime | model | threads | median ms | p10 ms | p90 ms | fp32/this | this/our fp32 | CPU ms | "
          "CPU this/our fp32 | file MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    median = {key: np.median(t) for key, t in times.items()}
    cpu_median = {key: np.median(t) for key, t in cpu.items()}
    for key, t in times.items():
        runtime, model, threads = key
        ms = 1000 * t
        own_fp32 = median.get((runtime, "fp32", threads))
        ratio = "-" if model == "fp32" or own_fp32 is None else "%.2fx" % (own_fp32 / median[key])
        print("| %s | %s | %d | %.2f | %.2f | %.2f | %s | %.2fx | %.2f | %.2fx | %.2f |"
              % (runtime, model, threads, np.median(ms), np.percentile(ms, 10), np.percentile(ms, 90), ratio,
                 median[key] / median[("ours", "fp32", threads)], 1000 * cpu_median[key],
                 cpu_median[key] / cpu_median[("ours", "fp32", threads)], sizes[key] / 1e6))
    _, flags = common.cpu_flags()
    vnni = "avx512_vnni" in flags or "avx_vnni" in flags
    for threads in thread_counts:
        fast = median[("ours", "int8 fast (default)", threads)] / median[("ours", "fp32", threads)]
        fast_cpu = cpu_median[("ours", "int8 fast (default)", threads)] / cpu_median[("ours", "fp32", threads)]
        exact = median[("ours", "int8 exact (pip ncnn)", threads)] / median[("pip ncnn", "int8", threads)]
        print("%d thread%s: default int8 / our fp32 = %.2fx wall, %.2fx CPU (target <= %.2fx on a VNNI CPU: %s%s); "
              "exact int8 / pip ncnn int8 = %.2fx (target <= %.1fx: %s)"
              % (threads, "" if threads == 1 else "s", fast, fast_cpu, FAST_TARGET,
                 "PASS" if fast <= FAST_TARGET else "FAIL",
                 "" if vnni else "; this CPU has no VNNI", exact, EXACT_TARGET,
                 "PASS" if exact <= EXACT_TARGET else "FAIL"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=os.path.join(common.LITE0, "lite0-kl.table"))
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--no-ort", action="store_true", help="skip the onnxruntime reference rows")
    ap.add_argument("--idle", choices=("sleep", "spin"), default="sleep",
                    help="idle threads: sleep at once (default), or each runtime's default spinning, in blocks")
    ap.add_argument("--block", type=int, default=10, help="with --idle spin: runs a runner makes in a row")
    args = ap.parse_args()
    spin = args.idle == "spin"
    if not spin:
        # pip ncnn's OpenMP threads spin while idle and steal the cores of the runner after them
        # (measured here under load: 2-thread pip ncnn 1 s per image instead of 10 ms); libgomp
        # reads this when pip ncnn loads it, below
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    thread_counts = [int(t) for t in args.threads.split(",") if t.strip()]
    image = common.eval_input(common.list_paths("eval.txt", 1)[0])
    real_pair = tuple(os.path.join(common.LITE0, "lite0-int8-kl." + ext) for ext in ("param", "bin"))
    with tempfile.TemporaryDirectory() as tmp:
        int8_pair = common.make_int8(args.table, os.path.join(tmp, "int8.param"), os.path.join(tmp, "int8.bin"))
        runners, sizes = {}, {}
        for threads in thread_counts:
            more_runners, more_sizes = runners_for(threads, image, int8_pair, real_pair, tmp, not args.no_ort, spin)
            runners.update(more_runners)
            sizes.update(more_sizes)
        header = common.machine_header(args.threads)
        block = max(2, args.block) if spin else 1
        times, cpu = measure(runners, args.rounds, args.warmup, block, 0.05 if spin else 0.0)
    print("EfficientNet-Lite0 batch-1 latency, median of %d interleaved rounds after %d warm-up; int8 table %s"
          % (args.rounds, args.warmup, os.path.basename(args.table)))
    print("idle threads: %s" % ("each runtime's default (spinning); each round runs a runner %d times in a row "
                                "after a 50 ms pause, the first not counted" % block if spin
                                else "sleep at once (OMP_WAIT_POLICY=passive, openmp_blocktime 0, no spinning)"))
    for line in header:
        print(line)
    print("load average after: %.2f %.2f %.2f (other jobs skew the times, pip ncnn's OpenMP threads most)"
          % os.getloadavg())
    print()
    print_table(times, cpu, sizes, thread_counts)
    size = sizes[("ours", "int8 fast (default)", thread_counts[0])] / sizes[("ours", "fp32", thread_counts[0])]
    print("int8 .bin / fp32 .bin = %.1f %% (target <= %d %%: %s)"
          % (100 * size, 100 * SIZE_TARGET, "PASS" if size <= SIZE_TARGET else "FAIL"))


if __name__ == "__main__":
    main()
