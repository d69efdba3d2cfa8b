"""Benchmark one int8 layer of each kind in our runtime: fp32 vs int8 fast kernels vs exact simulation.
Prints one table; never fails a build.

    python tools/bench_int8_kernels.py [--rounds 60] [--thread 1]

Each kind is a short chain of Lite0-sized layers (random int8 weights, kl-like scales), lowered to
ONNX with LowerCtx as the runtime does (a chain, so that onnxruntime's NHWC layout is used as in a
real model): the bottom is the uint8 tensor a requantizing producer hands over (a float bottom,
quantized inside the layer, where marked "float in"), tops int8 (term 102/101) or float (term 2/1).
fp32 is the same chain with float weights and a float bottom.
Rounds are interleaved so that load from other jobs hits every variant alike; times are the 25th
percentile over rounds.
The ratio columns are fp32 time / int8 time (> 1: int8 faster).
"""
import argparse
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from ncnnlike.graph import Layer  # noqa: E402
from ncnnlike.layers.base import layer_module, resolve  # noqa: E402
from ncnnlike.layers.lowering import OPSET, LowerCtx  # noqa: E402
from ncnnlike.paramdict import ParamDict  # noqa: E402

# one layer: (type, c_in, num_output, kernel, stride, int8_scale_term, activation)
def conv(c_in, n_out, k=1, stride=1, term=102, act=3):
    return ("Convolution", c_in, n_out, k, stride, term, act)


def dw(c, k=3, stride=1, term=101, act=3):
    return ("ConvolutionDepthWise", c, c, k, stride, term, act)


# name, bottom (c, h, w), chain of layers; the bottom is int8 (uint8 from a producer) unless marked
KINDS = [
    ("conv3x3 s2 3->32 @224, float in", (3, 224, 224), [conv(3, 32, 3, 2)]),
    ("conv3x3 s1 32 @56 x4 (6-bit w)", (32, 56, 56), [conv(32, 32, 3, act=1)] * 4),
    ("conv1x1 24<->144 @56 x2", (24, 56, 56), [conv(24, 144), conv(144, 24)] * 2),
    ("conv1x1 192<->1152 @7 x2", (192, 7, 7), [conv(192, 1152), conv(1152, 192)] * 2),
    ("conv1x1 144->24 @56 float out", (144, 56, 56), [conv(144, 24, term=2, act=0)]),
    ("conv1x1 1152->192 @7 float out", (1152, 7, 7), [conv(1152, 192, term=2, act=0)]),
    ("conv3x3 s1 32 @56 float out x4", (32, 56, 56), [conv(32, 32, 3, term=2, act=1)] * 4),
    ("dw3x3 32 @112 x4", (32, 112, 112), [dw(32)] * 4),
    ("dw3x3 144 @56 x4", (144, 56, 56), [dw(144)] * 4),
    ("dw5x5 480 @14 x4", (480, 14, 14), [dw(480, 5)] * 4),
    ("dw5x5 1152 @7 x4", (1152, 7, 7), [dw(1152, 5)] * 4),
    ("dw3x3 144 @56 float out", (144, 56, 56), [dw(144, term=1)]),
    ("innerproduct 1280->1000, float in", (1280,), [("InnerProduct", 1280, 1000, 0, 0, 2, 0)]),
]
FLOAT_IN = ("float in",)
KERNELS = ("QLinearConv", "MatMulIntegerToFloat", "ConvInteger", "MatMulInteger", "Conv")


def make_layer(spec, i, rng, int8):
    """Layer i of a chain: int8 weights and kl-like scales, or (int8=False) the float model."""
    type_, c_in, n_out, k, stride, term, act = spec
    depthwise = type_ == "ConvolutionDepthWise"
    n_in = 1 if depthwise else c_in
    w_max = 31 if (k == 3 and stride == 1 and not depthwise) else 127
    wq = rng.integers(-w_max, w_max + 1, n_out * n_in * max(k, 1) ** 2).astype(np.int8)
    w_scale = rng.uniform(20, 200, n_out).astype(np.float32)
    if type_ == "InnerProduct":
        params = {0: n_out, 1: 1, 2: wq.size}
    else:
        params = {0: n_out, 1: k, 3: stride, 4: k // 2, 5: 1, 6: wq.size, 9: act}
        if act == 3:
            params[10] = [0.0, 6.0]
    if depthwise:
        params[7] = n_out
    weights = {"weight_data": wq, "bias_data": rng.normal(0, 1, n_out).astype(np.float32)}
    if int8:
        params[8] = term
        weights.update(weight_data_int8_scales=w_scale, bottom_blob_int8_scales=np.float32([20.0]))
        if term > 100:
            weights["top_blob_int8_scales"] = np.float32([21.0])
    else:
        weights["weight_data"] = (wq / np.repeat(w_scale, wq.size // n_out)).astype(np.float32)
    return Layer(type_, "l%d" % i, ["b%d" % i], ["b%d" % (i + 1)], ParamDict(params), weights)


def session(kind, mode, threads, rng):
    """(onnxruntime session, feed) for one chain lowered with ctx.int8 = mode (False: the fp32 layers)."""
    name, shape, chain = kind
    int8_in = bool(mode) and not name.endswith(FLOAT_IN)
    ctx = LowerCtx(int8=mode)
    ctx.bind("b0", "b0", shape, quant=20.0 if int8_in else None)
    for i, spec in enumerate(chain):
        layer = make_layer(spec, i, rng, bool(mode))
        layer_module(layer.type).lower(layer, resolve(layer), ctx)
    out = ctx.float_of("b%d" % len(chain))
    dtype = onnx.TensorProto.UINT8 if int8_in else onnx.TensorProto.FLOAT
    graph = helper.make_graph(ctx.nodes, "bench", [helper.make_tensor_value_info("b0", dtype, ["N", *shape])],
                              [helper.make_tensor_value_info(out, onnx.TensorProto.FLOAT, None)], ctx.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    x = (rng.integers(60, 196, (1, *shape)).astype(np.uint8) if int8_in
         else rng.normal(0, 1, (1, *shape)).astype(np.float32))
    kernel = next((n.op_type for n in ctx.nodes if n.op_type in KERNELS), "?")
    return sess, {"b0": x}, kernel


def measure(kind, rounds, threads):
    """(fast kernel, [fp32, fast, exact] ms) for one chain: interleaved rounds, 25th percentile (the
    machine's 2 cores are shared; the low quantile is the least disturbed)."""
    rng = np.random.default_rng(0)
    runs = {mode: session(kind, mode, threads, rng) for mode in (False, "fast", "exact")}
    times = {mode: [] for mode in runs}
    for r in range(rounds + 5):
        for mode, (sess, feed, _) in runs.items():
            t0 = time.perf_counter()
            sess.run(None, feed)
            if r >= 5:
                times[mode].append(time.perf_counter() - t0)
    return runs["fast"][2], [1e3 * float(np.percentile(times[m], 25)) for m in (False, "fast", "exact")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--thread", type=int, default=1)
    args = ap.parse_args()
    from tools.common import machine_header
    for line in machine_header(str(args.thread)):
        print(line)
    print("%-34s %-20s %8s %8s %8s %10s %11s" % ("layer kind", "fast kernel", "fp32 ms", "fast ms", "exact ms",
                                                   "fp32/fast", "fp32/exact"))
    for kind in KINDS:
        kernel, (fp32, fast, exact) = measure(kind, args.rounds, args.thread)
        print("%-34s %-20s %8.3f %8.3f %8.3f %10.2f %11.2f" % (kind[0], kernel, fp32, fast, exact, fp32 / fast,
                                                             fp32 / exact))


if __name__ == "__main__":
    main()
