"""How fast can method=eq be on EfficientNet-Lite0? Issue 14's target: model2table method=eq within 3x the
wall of ncnn2table method=kl (ncnn's eq segfaults, spec 5.8) on the 100 PNG calibration images, thread=2.

    python tools/eq_bound.py [--samples 50] [--threads 2] [--layers convclip_9,conv_24,conv_30,convclip_16]
                             [--ncnn-rounds 2] [--per-layer]

Prints, after the CPU flags and load average:
1. multiply-adds (exact count from the model): the intended algorithm (spec 5.8: 100 candidates per weight
   scale and per bottom scale, first min(50, N) samples) done literally (every weight candidate reruns the
   whole layer), vectorised (a weight candidate of unit u only needs unit u's output channels), with the
   exact algebra of layers without activation (weight search: d from X^T y, q from the Gram matrix where
   K < P), and what eq.py computes (101 candidates: the current scale too); the float outputs that must
   each be dequantized, activated and reduced, and the inputs quantized per bottom candidate.
2. this machine's rates through onnxruntime: fp32 MatMul and u8s8 / s8s8 MatMulInteger at 2048^3 (the peak),
   each layer's eq GEMM at its own shapes (int32 output written: K = 9..1152 makes most of them
   output-bound), and one elementwise pass.
3. eq.py vs the int8 prototype (tools/eq_int8_proto.py) on a few layers, same data, side by side; their
   errors against a float64 reference (exact integer sums) on 2 samples, and the chosen scales.
4. the bounds and extrapolations against 3x ncnn2table kl's wall, measured in the same run (with our own
   model2table kl wall: the eq job runs the KL calibration first).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tools.common import CALIB_OPTIONS, FP32_BIN, FP32_PARAM, machine_header  # noqa: E402

CANDIDATES = 100


# ---------------------------------------------------------------- 1. counts

def lite0_specs():
    """(graph, [(layer, Int8Layer, top shape)]) of Lite0's conv layers."""
    from ncnnlike.io.model import load_model
    from ncnnlike.quant.methods import eq
    from ncnnlike.quant.weights import CONV_TYPES
    from ncnnlike.runtime.lower import lower_graph
    graph = load_model(FP32_PARAM, FP32_BIN)
    layers = [layer for layer in graph if layer.type in CONV_TYPES]
    blobs = list(dict.fromkeys(b for layer in layers for b in (layer.bottoms[0], layer.tops[0])))
    ctx = lower_graph(graph, {"in0": (3, 224, 224)}, blobs, int8=False)[2]
    return graph, [(layer, eq.int8_layer(layer, ctx.shape(layer.bottoms[0])), ctx.shape(layer.tops[0]))
                   for layer in layers]


def layer_cost(spec, top):
    """Per sample: K (products per output), P (pixels), C (outputs channels), MACs, outputs, inputs."""
    outputs = int(np.prod(top))
    channels = spec.weight.shape[0]
    k = int(np.prod(spec.weight.shape[1:]))
    return dict(K=k, P=outputs // channels, C=channels, macs=outputs * k, outputs=outputs,
                inputs=int(np.prod(spec.in_chw)), linear=spec.activation[0] == 0)


def counts(cost, samples):
    """MACs of one layer on `samples` samples: {way: (weight search, bottom search)}."""
    k, p, c, macs = cost["K"], cost["P"], cost["C"], cost["macs"]
    units = cost["units"]
    algebra_w = CANDIDATES * macs
    if cost["linear"]:     # d: Z = X^T y once; q: Gram K^2 P + quadratic forms, or direct
        algebra_w = macs + min(CANDIDATES * macs, k * k * p + CANDIDATES * c * k * k)
    return {"literal (ncnn's loops)": (units * CANDIDATES * macs * samples, CANDIDATES * macs * samples),
            "vectorised (unit's channels)": (CANDIDATES * macs * samples, CANDIDATES * macs * samples),
            "+ exact algebra (no-activation layers)": (algebra_w * samples, CANDIDATES * macs * samples),
            "eq.py (101 candidates)": (101 * macs * samples, 101 * macs * samples)}


def print_counts(costs, samples, per_layer):
    print("\n## 1. Multiply-adds, samples = %d (Lite0: %d conv layers, %.1f M MACs, %.2f M outputs, "
          "%.2f M inputs per sample)" % (samples, len(costs), sum(c["macs"] for c in costs) / 1e6,
                                         sum(c["outputs"] for c in costs) / 1e6,
                                         sum(c["inputs"] for c in costs) / 1e6))
    if per_layer:
        print("| layer | type | K | P | C | units | M MACs | act |\n|---|---|---|---|---|---|---|---|")
        for c in costs:
            act = "-" if c["linear"] else "yes"
            print("| %s | %s | %d | %d | %d | %d | %.2f | %s |"
                  % (c["name"], c["type"], c["K"], c["P"], c["C"], c["units"], c["macs"] / 1e6, act))
    print("| way | weight search T MACs | bottom search T MACs | total T MACs |\n|---|---|---|---|")
    totals = {}
    for way in counts(costs[0], samples):
        w = sum(counts(c, samples)[way][0] for c in costs)
        b = sum(counts(c, samples)[way][1] for c in costs)
        totals[way] = w + b
        print("| %s | %.3f | %.3f | %.3f |" % (way, w / 1e12, b / 1e12, (w + b) / 1e12))
    outputs = 2 * 101 * samples * sum(c["outputs"] for c in costs)
    inputs = 101 * samples * sum(c["inputs"] for c in costs)
    print("eq.py also dequantizes, activates and reduces %.1f G outputs and quantizes %.1f G inputs"
          % (outputs / 1e9, inputs / 1e9))
    return totals, outputs, inputs


# ---------------------------------------------------------------- 2. rates

def _session(nodes, inputs, threads, inits=(), out_type=1):
    """onnxruntime session computing c (elem type out_type, 1 = float) with `threads` intra-op threads."""
    import onnxruntime as ort
    from onnx import helper
    graph = helper.make_graph(nodes, "rate", [helper.make_tensor_value_info(n, t, None) for n, t in inputs.items()],
                              [helper.make_tensor_value_info("c", out_type, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def seconds(sess, feeds, budget=0.3):
    """Best wall of one run (at least 2 runs, about `budget` seconds)."""
    sess.run(None, feeds)
    best, start = float("inf"), time.perf_counter()
    for i in range(50):
        t = time.perf_counter()
        sess.run(None, feeds)
        best = min(best, time.perf_counter() - t)
        if i >= 1 and time.perf_counter() - start > budget:
            break
    return best


def matmul_seconds(a_shape, b_shape, kind, threads, budget=0.3):
    """One MatMul (fp32) or MatMulInteger (u8s8: zero point 128, s8s8) of random operands, B an input."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    if kind == "fp32":
        feeds = {"a": rng.standard_normal(a_shape, np.float32), "b": rng.standard_normal(b_shape, np.float32)}
        node, types = helper.make_node("MatMul", ["a", "b"], ["c"]), TensorProto.FLOAT
        return seconds(_session([node], {"a": types, "b": types}, threads), feeds, budget)
    a_type = np.uint8 if kind == "u8s8" else np.int8
    feeds = {"a": rng.integers(1, 255, a_shape).astype(a_type) if kind == "u8s8" else
             rng.integers(-127, 128, a_shape).astype(np.int8), "b": rng.integers(-127, 128, b_shape).astype(np.int8)}
    zp = numpy_helper.from_array(np.array(128 if kind == "u8s8" else 0, a_type), "zp")
    node = helper.make_node("MatMulInteger", ["a", "b", "zp"], ["c"])
    ta = TensorProto.UINT8 if kind == "u8s8" else TensorProto.INT8
    return seconds(_session([node], {"a": ta, "b": TensorProto.INT8}, threads, [zp], TensorProto.INT32), feeds, budget)


def pass_seconds(elements, threads):
    """One onnxruntime elementwise pass (Relu) over `elements` float32 values."""
    from onnx import TensorProto, helper
    x = np.random.default_rng(0).standard_normal(elements).astype(np.float32)
    return seconds(_session([helper.make_node("Relu", ["x"], ["c"])], {"x": TensorProto.FLOAT}, threads), {"x": x})


def gemm_shapes(cost, samples, run):
    """(A, B) operand shapes of one GEMM run of the weight search and of the bottom search with at most
    about `run` outputs per run (pixels split when needed), as the int8 prototype lays them out:
    weight (S*101, K) @ (m, K, P); bottom (C, K) @ (m, K, P); depthwise batched over groups."""
    k, p, c, units = cost["K"], cost["P"], cost["C"], cost["units"]
    if cost["depthwise"]:
        og = c // units
        pw, pb = min(p, max(64, run // (101 * og))), min(p, max(64, run // og))
        gw, gb = max(1, min(units, run // (101 * og * pw))), max(1, min(units, run // (og * pb)))
        return ((gw, 101 * og, k), (gw, k, pw)), ((gb, og, k), (gb, k, pb))
    pw, pb = min(p, max(64, run // 101)), min(p, max(64, run // c))
    m = max(1, min(samples, -(-512 // pw)))
    s = max(1, min(units, run // (101 * pw * m)))
    mb = max(1, min(samples, run // (pb * max(c, k))))
    return ((s * 101, k), (m, k, pw)), ((c, k), (mb, k, pb))


def dw_conv_seconds(cost, samples, search):
    """One fp32 grouped Conv of a depthwise layer (the float path): weight search with 101 candidate
    outputs per group on one sample, bottom search on `samples` samples, int32-exact for K <= 25."""
    from onnx import TensorProto, helper
    spec, rng = cost["spec"], np.random.default_rng(0)
    c, kh, kw = spec.in_chw[0], *spec.conv["kernel_shape"]
    n, outs = (1, 101 * cost["C"])
    if search == "bottom":
        n, outs = max(1, min(samples, (1 << 20) // cost["outputs"])), cost["C"]
    t, left, b, r = spec.pads
    feeds = {"x": rng.standard_normal((n, c, spec.in_chw[1] + t + b, spec.in_chw[2] + left + r), np.float32),
             "w": rng.standard_normal((outs, c // spec.units, kh, kw), np.float32)}
    node = helper.make_node("Conv", ["x", "w"], ["c"], group=spec.units, **spec.conv)
    wall = seconds(_session([node], {"x": TensorProto.FLOAT, "w": TensorProto.FLOAT}, 1), feeds, 0.1)
    return wall, n * outs * cost["P"] * cost["K"]


def layer_gemm_seconds(costs, samples, threads):
    """Seconds of the two searches' GEMMs alone per layer at each layer's shapes: u8s8 MatMulInteger
    (int32 written; the faster of runs of 256 K and 1 M outputs) or, for depthwise layers, the faster
    of it and fp32 grouped Conv; measured on one thread and divided by `threads` (perfect scaling: a
    lower bound on a shared machine)."""
    out = []
    for cost in costs:
        times = []
        for i, search in enumerate(("weight", "bottom")):
            rate = 0
            for run in (1 << 18, 1 << 20):
                a_shape, b_shape = gemm_shapes(cost, samples, run)[i]
                batch = int(np.prod(np.broadcast_shapes(a_shape[:-2], b_shape[:-2])))
                macs = batch * a_shape[-2] * a_shape[-1] * b_shape[-1]
                rate = max(rate, macs / matmul_seconds(a_shape, b_shape, "u8s8", 1, 0.1))
            if cost["depthwise"]:
                wall, macs = dw_conv_seconds(cost, samples, search)
                rate = max(rate, macs / wall)
            times.append(101 * samples * cost["macs"] / rate / threads)
        out.append(times)
    return out


def print_rates(threads):
    print("\n## 2. Rates through onnxruntime (GMAC/s; B an input, packed per run as in eq)")
    print("| GEMM | threads | fp32 MatMul | u8s8 MatMulInteger | s8s8 MatMulInteger |\n|---|---|---|---|---|")
    peak = {}
    for m, k, n in ((2048, 2048, 2048), (196, 672, 11312), (12544, 16, 1616), (12544, 16, 96)):
        for t in sorted({1, threads}):
            row = [m * k * n / matmul_seconds((m, k), (k, n), kind, t) / 1e9 for kind in ("fp32", "u8s8", "s8s8")]
            peak.setdefault(t, row)
            print("| %dx%dx%d | %d | %.1f | %.1f | %.1f |" % ((m, k, n, t) + tuple(row)))
    passes = {size: size / pass_seconds(size, threads) / 1e9 for size in (1 << 18, 1 << 24)}
    print("one elementwise pass (Relu), %d threads: %.2f G values/s at 256 K values (in cache), %.2f at 16 M"
          % (threads, passes[1 << 18], passes[1 << 24]))
    best = max(peak[threads][1], threads * peak[1][1]) * 1e9
    print("peak u8s8 taken as %.1f GMAC/s (the 2048^3 rate on %d threads, or %d x the 1-thread rate if higher)"
          % (best / 1e9, threads, threads))
    return best, passes[1 << 18] * 1e9


# ---------------------------------------------------------------- 3. eq.py vs the int8 prototype

def calibration_blobs(graph, layers, samples, threads):
    """fp32 bottoms and tops of `layers` on the first `samples` PNG calibration images (model2table's
    preprocessing), and each layer's KL bottom scale (ncnn's png kl table: ours is byte-identical)."""
    from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
    from ncnnlike.quant.methods import eq
    from ncnnlike.quant.tablefile import read_table
    from tools.bench_vs_ncnn import image_lists
    from tools.common import LITE0
    with tempfile.TemporaryDirectory() as folder:
        lists = read_lists([image_lists(folder)[0]])
        preprocess = parse_preprocess(dict(o.split("=", 1) for o in CALIB_OPTIONS), graph.input_names())
        inputs = next(iter_batches([entries[:samples] for entries in lists], preprocess, samples, threads))
    blobs = list(dict.fromkeys(b for layer in layers for b in (layer.bottoms[0], layer.tops[0])))
    table = read_table(os.path.join(LITE0, "lite0-png-kl.table"))
    scales = {layer.name: np.float32(table.blobs[layer.name].values[0]) for layer in layers}
    return eq._fetch(graph, inputs, blobs, threads), scales


def reference_d(spec, xq, y3, s_in, scales, sample):
    """The weight search's d (units, K1) of one sample in float64 from exact integer sums, with ncnn's
    float32 dequantization, bias and activation."""
    from ncnnlike.layers.activation import apply_fused
    from ncnnlike.quant.methods import eq
    from tools.eq_int8_proto import im2col
    patches = im2col(spec, xq[sample:sample + 1])[0].astype(np.float64)            # (K, P)
    rows = eq.quantize(spec.weight.reshape(spec.units, 1, -1), scales[:, :, None]).astype(np.float64)
    acc = (rows.reshape(-1, patches.shape[0]) @ patches).astype(np.float32).reshape(scales.shape + (-1,))
    al = np.float32(1) / (np.float32(s_in) * scales)
    out = apply_fused(acc * al[..., None] + spec.bias[:, None, None], *spec.activation).astype(np.float64)
    return np.einsum("ukp,up->uk", out, y3[sample].astype(np.float64))


def run_search(module, spec, x, y3, s_in, ws, threads):
    """(weight seconds, bottom seconds, d, chosen weight scales, bottom cosine sums) of one implementation."""
    from ncnnlike.quant.methods import eq
    y_norm = eq.top_norms(y3)
    start = time.perf_counter()
    xq = eq.quantized_bottom(spec, x, s_in)
    scales = np.concatenate([eq.candidate_scales(ws), ws[:, None]], axis=1)
    d, q = module.weight_contributions(spec, xq, y3, s_in, scales, threads)
    chosen = eq.search_weight_scales(d, q, y_norm, scales)
    middle = time.perf_counter()
    sums = module.bottom_cosine_sums(spec, x, y3, y_norm, chosen, np.append(eq.candidate_scales(s_in), s_in), threads)
    return middle - start, time.perf_counter() - middle, d, chosen, sums, (xq, scales)


def compare_prototype(graph, costs, names, samples, threads):
    """Time eq.py and the prototype on the named layers (alternating which goes first); returns
    {name: (eq.py seconds, prototype seconds)}."""
    from ncnnlike.quant.methods import eq
    from ncnnlike.quant.weights import weight_scales
    from tools import eq_int8_proto as proto
    layers = [graph.layer(name) for name in names]
    fetched, bottom_scales = calibration_blobs(graph, layers, samples, threads)
    by_name = {c["name"]: c for c in costs}
    print("\n## 3. eq.py (float32 Conv) vs int8 prototype, %d samples, %d threads (seconds; d error: max |d - "
          "float64 reference| / max |d| on samples 0, 1)" % (samples, threads))
    print("| layer | K | P | eq.py weight / bottom | int8 weight / bottom | speed-up | eq.py d err | int8 d err "
          "| weight scales differing | bottom candidate eq.py / int8 |\n|---|---|---|---|---|---|---|---|---|---|")
    result = {}
    for i, layer in enumerate(layers):
        spec = by_name[layer.name]["spec"]
        if not proto.supported(spec):
            print("| %s | not supported by the prototype |" % layer.name)
            continue
        x, y3 = spec.bottom(fetched[layer.bottoms[0]]), spec.top(fetched[layer.tops[0]])
        ws, s_in = weight_scales(layer), bottom_scales[layer.name]
        order = [eq, proto] if i % 2 == 0 else [proto, eq]
        runs = {module: run_search(module, spec, x, y3, s_in, ws, threads) for module in order}
        old, new = runs[eq], runs[proto]
        xq, scales = old[5]
        refs = [reference_d(spec, xq, y3, s_in, scales, s) for s in range(min(2, samples))]
        err = [max(float(np.abs(r[2][s] - ref).max() / np.abs(ref).max()) for s, ref in enumerate(refs))
               for r in (old, new)]
        result[layer.name] = (old[0] + old[1], new[0] + new[1])
        print("| %s | %d | %d | %.2f / %.2f | %.2f / %.2f | %.2fx | %.1e | %.1e | %d of %d | %d / %d |" % (
            layer.name, by_name[layer.name]["K"], by_name[layer.name]["P"], old[0], old[1], new[0], new[1],
            result[layer.name][0] / result[layer.name][1], err[0], err[1], int((old[3] != new[3]).sum()), len(ws),
            eq._pick(old[4]), eq._pick(new[4])))
    return result


# ---------------------------------------------------------------- 4. budget and bounds

def kl_walls(threads, rounds):
    """Median walls of ncnn2table method=kl and our model2table method=kl (the 100 PNG list), interleaved."""
    from tools.bench_vs_ncnn import LITE0, TOOLS, console_script, image_lists, measure
    param, binfile = os.path.join(LITE0, "lite0-opt.param"), os.path.join(LITE0, "lite0-opt.bin")
    walls = {"ncnn": [], "ours": []}
    with tempfile.TemporaryDirectory() as folder:
        png100 = image_lists(folder)[0]
        options = CALIB_OPTIONS + ["thread=%d" % threads, "method=kl"]
        cmds = {"ncnn": [os.path.join(TOOLS, "ncnn2table"), param, binfile, png100, os.path.join(folder, "n.table")],
                "ours": console_script("model2table") + [param, binfile, png100, os.path.join(folder, "o.table")]}
        envs = {"ncnn": dict(os.environ, OMP_WAIT_POLICY="passive"), "ours": dict(os.environ)}
        for r in range(rounds):
            for side in (("ncnn", "ours") if r % 2 == 0 else ("ours", "ncnn")):
                wall, _, _, code, tail = measure(cmds[side] + options, envs[side])
                if code != 0:
                    raise SystemExit("%s kl failed: %s" % (side, tail))
                walls[side].append(wall)
    return {side: float(np.median(v)) for side, v in walls.items()}


def print_bounds(estimates, walls):
    budget = 3 * walls["ncnn"]
    print("\n## 4. The eq job (our KL calibration, %.2f s, + the search) against 3 x ncnn2table kl (%.2f s x 3 = "
          "%.2f s)" % (walls["ours"], walls["ncnn"], budget))
    print("| search estimate | search s | eq job s | / ncnn kl | target 3x | ncnn kl wall that would make it pass "
          "|\n|---|---|---|---|---|---|")
    for label, search in estimates:
        job = walls["ours"] + search
        print("| %s | %.1f | %.1f | %.1fx | %s | >= %.1f s |" % (
            label, search, job, job / walls["ncnn"], "PASS" if job <= budget else "FAIL", job / 3))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=50, help="eq's samples: min(50, calibration images)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", default="convclip_9,conv_24,conv_30,convclip_16",
                    help="layers timed in eq.py and in the int8 prototype (empty: none)")
    ap.add_argument("--ncnn-rounds", type=int, default=2, help="interleaved kl runs of each tool (0: skip)")
    ap.add_argument("--per-layer", action="store_true", help="print the per-layer counts")
    args = ap.parse_args()
    print("eq cost bound on EfficientNet-Lite0, load average before: %.2f %.2f %.2f" % os.getloadavg())
    for line in machine_header(args.threads):
        print(line)
    graph, specs = lite0_specs()
    costs = []
    for layer, spec, top in specs:
        cost = layer_cost(spec, top)
        cost.update(name=layer.name, type=layer.type, units=spec.units, depthwise=spec.depthwise, spec=spec)
        costs.append(cost)
    totals, outputs, inputs = print_counts(costs, args.samples, args.per_layer)
    peak, pass_rate = print_rates(args.threads)
    gemm = layer_gemm_seconds(costs, args.samples, args.threads)
    gemm_total = sum(sum(t) for t in gemm)
    print("GEMMs of both searches at each layer's own shapes (1-thread time / %d): %.1f s "
          "(weight %.1f, bottom %.1f; depthwise %.1f); one pass over the outputs and inputs: %.1f s"
          % (args.threads, gemm_total, sum(t[0] for t in gemm), sum(t[1] for t in gemm),
             sum(sum(t) for t, c in zip(gemm, costs) if c["depthwise"]), (outputs + inputs) / pass_rate))
    estimates = [("peak u8s8 rate, exact-algebra MACs", totals["+ exact algebra (no-activation layers)"] / peak),
                 ("peak u8s8 rate, eq.py's MACs", totals["eq.py (101 candidates)"] / peak),
                 ("u8s8 GEMMs at Lite0's shapes + one pass", gemm_total + (outputs + inputs) / pass_rate)]
    names = [n for n in args.layers.split(",") if n]
    if names:
        measured = compare_prototype(graph, costs, names, args.samples, args.threads)
        if measured:
            bound = sum(sum(t) for t, c in zip(gemm, costs) if c["name"] in measured)
            for label, k in (("int8 prototype", 1), ("eq.py", 0)):
                ratio = sum(v[k] for v in measured.values()) / bound
                estimates.append(("%s, extrapolated (%.1fx its GEMM bound on the timed layers)" % (label, ratio),
                                  ratio * gemm_total))
    if args.ncnn_rounds > 0:
        print_bounds(estimates, kl_walls(args.threads, args.ncnn_rounds))
    print("\nload average after: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
