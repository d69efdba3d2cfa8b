"""Prototype: an int8 depthwise kernel in C with AVX512-VNNI (tools/proto_dw_vnni.c) against
onnxruntime's, on Lite0's 16 depthwise layers, 1 thread. A measurement tool, not package code.

    python tools/proto_dw_cvnni.py [--rounds 40] [--images 2]
    PROTO_DW_SCHEME=masked ...           the first scheme (one tap a lane), else the second (VBMI)
    PROTO_DW_FLAGS=-DNO_REQUANT ...      the multiply-adds alone (timing only; outputs then differ)
    PROTO_DW_FLAGS=-DONLY_BLOCK ...      second scheme: only the blocking of the input rows
    PROTO_DW_ONE=1 ...                   second scheme: one pixel a step at stride 1 too

Prints, after the machine header: how many outputs of the kernel differ from our sim mode (ncnn's
int8 arithmetic) on every depthwise layer of `--images` eval images, each fed sim's own int8
bottom; then per layer the kernel time of onnxruntime's fp32 Conv+ReLU6 and of its int8
QLinearConv + Clip as the fast path lowers it (its profiler, medians of interleaved rounds), and
the C kernel's CPU time through the ctypes call and inside C, with the sums, the
multiply-add rates and the rate of vpdpbusd itself on this core (12 independent chains).
The question (docs/int8-speed.md): is a kernel 1.6-1.9x faster than onnxruntime's int8 one within
reach, which the fast path needs for 0.45x of fp32?

The kernel is compiled with the system's gcc into a temporary folder (-O3, AVX-512 + VNNI + VBMI)
and called by ctypes; `library()` is None where there is no gcc or the CPU lacks avx512_vnni or
avx512vbmi.
DWVnni has the interface of tools/proto_dw_numba.DW: dw(x, out), x (1, H, W, C) and out
(1, OH, OW, C) uint8 q+128, one C call per layer, taps outside the input read as q = 0."""
import argparse
import collections
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SCHEME = os.environ.get("PROTO_DW_SCHEME", "vbmi")     # vbmi: taps interleaved; masked: one tap a lane
FOUR = not os.environ.get("PROTO_DW_ONE")          # stride 1: four pixels a step sharing two windows
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "proto_dw_vnni.c")
_LIB = []


def library():
    """The compiled prototype (ctypes.CDLL), or None on a machine that cannot build or run it."""
    if not _LIB:
        _LIB.append(_build())
    return _LIB[0]


def _build():
    with open("/proc/cpuinfo") as f:
        flags = f.read()
    if "avx512_vnni" not in flags or "avx512vbmi" not in flags:
        return None
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    folder = tempfile.mkdtemp(prefix="proto_dw_vnni")
    path = os.path.join(folder, "proto_dw_vnni.so")
    flags = os.environ.get("PROTO_DW_FLAGS", "").split() + ["-O3", "-std=c99", "-shared", "-fPIC", "-mavx512f",
                                                            "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mavx512vbmi"]
    if subprocess.run([gcc] + flags + [SOURCE, "-o", path], capture_output=True).returncode:
        return None
    return ctypes.CDLL(path)


def largest_below_128(s_top):
    """The largest float32 v >= 0 with trunc(float32(float32(v * s_top) + 0.5)) <= 127 (the map is
    monotone in v: a binary search over the bit patterns); None if there is none."""
    s_top, half = np.float32(s_top), np.float32(0.5)

    def q(bits):
        v = np.array([bits], np.uint32).view(np.float32)[0]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.trunc(np.float32(np.float32(v * s_top) + half))

    lo, hi = 0, 0x7F7FFFFF
    if not q(lo) <= 127:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if q(mid) <= 127:
            lo = mid
        else:
            hi = mid - 1
    return float(np.array([lo], np.uint32).view(np.float32)[0])


def _ptr(a):
    return a.ctypes.data_as(ctypes.c_void_p)


class DWVnni:
    """One requantizing depthwise layer (an int8.Int8Layer with ReLU6/Clip or no activation)."""

    def __init__(self, L, in_shape, top, pads, strides):
        c, h, w = in_shape
        _, oh, ow = top
        kh, kw = L.weight.shape[2:]
        self.lib = library()
        self.sh, self.sw, self.pt, self.pl, self.kh, self.kw = strides[0], strides[1], pads[0], pads[1], kh, kw
        self.hp, self.wp = max(h + self.pt, (oh - 1) * self.sh + kh), max(w + self.pl, (ow - 1) * self.sw + kw)
        self.h, self.w, self.c, self.oh, self.ow = h, w, c, oh, ow
        wq = np.ascontiguousarray(L.weight.reshape(c, kh * kw).T, np.int8)
        blocks = (c + 63) // 64
        self.packed = np.empty(blocks * kh * kw * 4 * 64, np.int8)
        corr = np.empty(c, np.int32)
        self.scale, self.bias = np.empty(blocks * 64, np.float32), np.empty(blocks * 64, np.float32)
        self.corr = np.empty(blocks * 64, np.int32)
        bias = (np.zeros(c) if L.bias is None else L.bias).astype(np.float32)
        scale_in = np.ascontiguousarray(L.scale_in, np.float32)
        self.lib.pack_weights(_ptr(wq), kh * kw, c, _ptr(self.packed), _ptr(corr), _ptr(scale_in), _ptr(bias),
                              _ptr(self.scale), _ptr(self.bias), _ptr(self.corr))
        lo, hi = (L.activation_params[:2] if L.activation_type == 3 else
                  (0, np.inf) if L.activation_type == 1 else (-np.inf, np.inf))
        self.act = [ctypes.c_float(v) for v in (lo, hi, L.s_top)]
        groups, nq = (c + 15) // 16, (kw + 3) // 4
        self.packed_vbmi = np.empty(groups * kh * nq * 64, np.int8)
        self.lib.pack_vbmi(_ptr(wq), kh, kw, c, _ptr(self.packed_vbmi))
        self.scale_c, self.bias_c, self.corr_c = scale_in, bias, corr
        self.packed_four = np.empty(groups * kh * 8 * 64, np.int8)
        self.lib.pack_four(_ptr(wq), kh, kw, c, _ptr(self.packed_four))
        self.wb = self.wp + 8
        self.ring = np.empty(kh * groups * self.wb * 16, np.uint8)
        self._arguments()

    def _arguments(self):
        """The call's fixed arguments, made once (ndarray.ctypes costs ~1 us an array, 16 us a call)."""
        if SCHEME != "vbmi":
            self.function = self.lib.dw_direct
            self.args = ([self.h, self.w, self.c, self.pt, self.pl, _ptr(self.packed), _ptr(self.scale),
                          _ptr(self.bias), _ptr(self.corr), *self.act, self.kh, self.kw, self.sh, self.sw],
                         [self.oh, self.ow])
            return
        lo, hi, s_top = (a.value for a in self.act)
        top = largest_below_128(s_top) if lo >= 0 else None
        bounded = top is not None and top <= hi
        act = [self.act[0], ctypes.c_float(top) if bounded else self.act[1], self.act[2]]
        self.function = self.lib.dw_vbmi
        self.args = ([self.h, self.w, self.c, self.pt, self.pl, _ptr(self.packed_vbmi), _ptr(self.scale_c),
                      _ptr(self.bias_c), _ptr(self.corr_c), *act, self.kh, self.kw, self.sh, self.sw],
                     [self.oh, self.ow, _ptr(self.ring), self.wb, int(bounded),
                      _ptr(self.packed_four) if FOUR else ctypes.c_void_p(None)])

    def __call__(self, x, out):
        head, tail = self.args
        self.function(ctypes.c_void_p(x.ctypes.data), *head, ctypes.c_void_p(out.ctypes.data), *tail)

def check(pair, layers, count):
    """(outputs that differ from our sim mode, outputs) on `count` eval images."""
    from tools import common
    from tools.proto_dw_int8 import sim_mismatches
    return sim_mismatches(pair, layers, common.eval_inputs(common.list_paths("eval.txt", count)), DWVnni)


def layer_rows(layers, rounds, tmp):
    """{layer: {"fp32", "int8", "C": microseconds}}: onnxruntime's kernels from its profiler, ours by CPU time."""
    from tools import profile_int8
    from tools.proto_dw_graphs import layer_models, ort_session
    rng = np.random.default_rng(0)
    rows = {}
    for d in layers:
        c, h, w = d["shape"]
        x8 = rng.integers(64, 192, (1, h, w, c)).astype(np.uint8)
        x32 = rng.standard_normal((1, c, h, w)).astype(np.float32)
        models = layer_models(d)
        sessions = {}
        for i, (label, name) in enumerate((("fp32", "fp32 Conv+ReLU6"), ("int8", "int8 u8s8 NHWC (fast path)"))):
            model, kind, level = models[name]
            sessions[label] = (ort_session(model, level, profile=os.path.join(tmp, "%s%d" % (d["name"], i))),
                               {"x": x32 if kind == "f32" else x8})
        kernel = DWVnni(d["L"], d["shape"], d["top"], d["pads"], (d["p"].stride_h, d["p"].stride_w))
        out = np.empty((1, d["top"][1], d["top"][2], c), np.uint8)
        ours, inside = [], []
        last_ns = ctypes.c_longlong.in_dll(kernel.lib, "last_ns")
        for _ in range(rounds):
            for session, feed in sessions.values():
                session.run(None, feed)
            t0 = time.process_time()
            kernel(x8, out)
            ours.append(time.process_time() - t0)
            inside.append(last_ns.value * 1e-9)
        row = {}
        for label, (session, _) in sessions.items():
            nodes = profile_int8.node_times(session.end_profiling())
            row[label] = sum(float(np.median(t[2:])) for op, _, t in nodes.values()
                             if op not in ("ReorderInput", "ReorderOutput", "Transpose"))
        row["C"] = 1e6 * float(np.median(ours))
        row["C in C"] = 1e6 * float(np.median(inside))   # as onnxruntime's profiler times its kernels
        rows[d["name"]] = row
    return rows


def peak_rate():
    """int8 multiply-adds a second one core's vpdpbusd reaches (12 independent chains, best of 3)."""
    lib, sink = library(), ctypes.c_int()
    lib.peak_dpbusd.restype = ctypes.c_longlong
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        n = lib.peak_dpbusd(ctypes.c_longlong(10_000_000), ctypes.byref(sink))
        best = max(best, n / (time.perf_counter() - t0))
    return best * 64


def main():
    from tools import common
    from tools.proto_dw_graphs import dw_layers
    from tools.proto_dw_int8 import dw_macs
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--images", type=int, default=2)
    args = ap.parse_args()
    for line in common.machine_header("1"):
        print(line)
    if library() is None:
        print("no gcc, or no avx512_vnni on this CPU: nothing to measure")
        return
    print("kernel flags: %s" % (os.environ.get("PROTO_DW_FLAGS") or "(none)"))
    with tempfile.TemporaryDirectory() as tmp:
        pair = common.make_int8(os.path.join(common.LITE0, "lite0-kl.table"), os.path.join(tmp, "int8.param"),
                                os.path.join(tmp, "int8.bin"))
        layers = dw_layers(pair)
        if not os.environ.get("PROTO_DW_FLAGS"):
            bad, total = check(pair, layers, args.images)
            print("C VNNI kernel vs our sim mode (ncnn's arithmetic), %d images: %d of %d outputs differ"
                  % (args.images, bad, total))
        rows = layer_rows(layers, args.rounds, tmp)
    inside = "C in C" in next(iter(rows.values()))
    print("\n| layer | C, H, W | k, s | onnxruntime fp32 us | onnxruntime int8 us | C VNNI us (ctypes call) |"
          + (" C VNNI us (inside C) |" if inside else ""))
    print("|---|---|---|---|---|---|" + ("---|" if inside else ""))
    sums = collections.Counter()
    for d in layers:
        row = rows[d["name"]]
        sums.update(row)
        print("| %s | %s | %d, %d | %.1f | %.1f | %.1f |" % (d["name"], ",".join(map(str, d["shape"])),
              d["p"].kernel_w, d["p"].stride_w, row["fp32"], row["int8"], row["C"])
              + (" %.1f |" % row["C in C"] if inside else ""))
    macs = dw_macs(layers)
    print("| sum | | | %.0f | %.0f (%.2fx fp32) | %.0f (%.2fx fp32, %.2fx int8) |"
          % (sums["fp32"], sums["int8"], sums["int8"] / sums["fp32"], sums["C"], sums["C"] / sums["fp32"],
             sums["C"] / sums["int8"])
          + (" %.0f (%.2fx fp32, %.2fx int8) |" % (sums["C in C"], sums["C in C"] / sums["fp32"],
                                                    sums["C in C"] / sums["int8"]) if inside else ""))
    peak = peak_rate() / 1e9
    print("%.1f M multiply-adds: onnxruntime int8 %.1f G/s, C %.1f G/s; this core's vpdpbusd peak %.0f G/s "
          "(64 a zmm instruction); load average after %.2f %.2f %.2f"
          % (macs / 1e6, macs / sums["int8"] / 1e3, macs / sums["C"] / 1e3, peak, *os.getloadavg()))


if __name__ == "__main__":
    main()
