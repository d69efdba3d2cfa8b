"""Where Lite0's time goes, per ONNX op type: our fp32 graph, our fast int8 graph and onnxruntime's
own QDQ int8 model, profiled side by side (onnxruntime's SessionOptions.enable_profiling), batch 1.
Prints one table; never fails a build.

    python tools/profile_int8.py [--rounds 60] [--threads 1] [--table T] [--nodes]

Rounds are interleaved (each round runs the three graphs once) so that load from other jobs hits
all alike. A kernel's time is the median of its per-round times (a low quantile of a loaded
machine's noise), summed per op type; the wall column is the median round of the whole run, so
the difference to the kernel sum is onnxruntime's per-node overhead and Python's. --nodes adds
every node of the fast graph, in execution order, beside its output shape.
"""
import argparse
import collections
import json
import os
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from ncnnlike.layers import dw_vnni, pw_vnni  # noqa: E402
from tools import bench_speed, common  # noqa: E402


def our_model(param, binfile, int8, threads):
    """(serialized model, external initializers) of our lowering of a model file pair, batch 1, for a
    session of `threads` intra-op threads (our ops split their work among them)."""
    from ncnnlike.runtime.lower import lower_to_bytes
    net = common.our_net(param, binfile, int8, 1)
    data, _, _, external = lower_to_bytes(net.graph, {common.INPUT: (3, 224, 224)}, [common.OUTPUT],
                                          int8="fast" if int8 else False, threads=threads)
    return data, external


def profiled_session(model, external, threads, prefix):
    """A profiling onnxruntime session; its optimized graph is written to prefix + ".onnx"."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = prefix
    so.optimized_model_filepath = prefix + ".onnx"
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if dw_vnni.library():        # the fast graph's depthwise convs (layers/dw_vnni.py)
        dw_vnni.register(so)
    if external:
        so.add_external_initializers([n for n, _ in external],
                                     [ort.OrtValue.ortvalue_from_numpy(a) for _, a in external])
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def node_times(path):
    """{node name: (op type, output shapes, [per-run microseconds])} from an onnxruntime profile."""
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    nodes = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            args = e["args"]
            entry = nodes.setdefault(e["name"][:-len("_kernel_time")],
                                     (args["op_name"], args.get("output_type_shape"), []))
            entry[2].append(e["dur"])
    return nodes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=os.path.join(common.LITE0, "lite0-kl.table"))
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--nodes", action="store_true")
    args = ap.parse_args()
    image = common.eval_input(common.list_paths("eval.txt", 1)[0])
    with tempfile.TemporaryDirectory() as tmp:
        int8_pair = common.make_int8(args.table, os.path.join(tmp, "int8.param"), os.path.join(tmp, "int8.bin"))
        qdq, qdq_input = bench_speed.make_qdq(tmp)
        models = {"our fp32": our_model(common.FP32_PARAM, common.FP32_BIN, False, args.threads) + ({common.INPUT: image[None]},),
                  "our fast int8": our_model(*int8_pair, True, args.threads) + ({common.INPUT: image[None]},),
                  "onnxruntime QDQ int8": (qdq, None, {qdq_input: image[None]})}
        sessions = {name: (profiled_session(m, ext, args.threads, os.path.join(tmp, "p%d" % i)), feed)
                    for i, (name, (m, ext, feed)) in enumerate(models.items())}
        header = common.machine_header(str(args.threads))
        wall = collections.defaultdict(list)
        for _ in range(args.rounds):
            for name, (sess, feed) in sessions.items():
                t0 = time.perf_counter()
                sess.run(None, feed)
                wall[name].append(time.perf_counter() - t0)
        profiles = {name: node_times(sess.end_profiling()) for name, (sess, _) in sessions.items()}
        kinds = {name: conv_kinds(os.path.join(tmp, "p%d.onnx" % i)) for i, name in enumerate(sessions)}
    for line in header:
        print(line)
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    print_table(profiles, wall)
    print()
    print_kinds(profiles, kinds)
    if args.nodes:
        for name, (op, shapes, times) in profiles["our fast int8"].items():
            print("%-24s %8.1f us  %s" % (op, np.median(times), shapes))


def conv_kinds(path):
    """{node name: "depthwise" | "pointwise" | "dense KxK"} of the convolutions in an
    optimized graph (external data not loaded: only attributes and shapes are read)."""
    import onnx
    model = onnx.load(path, load_external_data=False)
    shapes = {i.name: [d for d in i.dims] for i in model.graph.initializer}
    kinds = {}
    for node in model.graph.node:
        if node.op_type == dw_vnni.OP:
            kinds[node.name] = "depthwise"
        if node.op_type in (pw_vnni.OP, pw_vnni.OP_Q, pw_vnni.OP_ADD_Q):
            kinds[node.name] = "pointwise"
        if node.op_type not in ("Conv", "QLinearConv", "FusedConv", "NchwcConv"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w = shapes.get(node.input[3] if node.op_type == "QLinearConv" else node.input[1])
        if attrs.get("group", 1) > 1:
            kinds[node.name] = "depthwise"
        elif w is not None and w[2:] == [1, 1]:
            kinds[node.name] = "pointwise"
        else:
            kinds[node.name] = "dense %s" % "x".join(map(str, w[2:])) if w else "dense"
    return kinds


def print_kinds(profiles, kinds):
    """Convolution time by kind (summed median kernel ms); MatMulIntegerToFloat counts as pointwise."""
    names = list(profiles)
    totals = {name: collections.Counter() for name in names}
    for name, nodes in profiles.items():
        for node, (op, _, times) in nodes.items():
            kind = kinds[name].get(node, "pointwise" if op == "MatMulIntegerToFloat" else None)
            if kind is not None:
                totals[name][kind] += float(np.median(times)) / 1000
    print("| conv kind | " + " | ".join("%s ms" % n for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for kind in sorted({k for t in totals.values() for k in t}):
        print("| %s | " % kind + " | ".join("%.3f (%.2fx)" % (totals[n][kind], totals[n][kind] / totals[names[0]][kind])
                                            if totals[names[0]][kind] else "%.3f" % totals[n][kind]
                                            for n in names) + " |")


def print_table(profiles, wall):
    """Per op type: nodes and summed median kernel ms of each graph; then kernel sums and walls."""
    names = list(profiles)
    per_op = {name: collections.defaultdict(lambda: [0, 0.0]) for name in names}
    for name, nodes in profiles.items():
        for op, _, times in nodes.values():
            per_op[name][op][0] += 1
            per_op[name][op][1] += float(np.median(times)) / 1000
    ops = sorted({op for table in per_op.values() for op in table},
                 key=lambda op: -max(per_op[n][op][1] for n in names))
    print("| op type | " + " | ".join("%s nodes | %s ms" % (n, n) for n in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for op in ops:
        cells = ["%d | %.3f" % tuple(per_op[n][op]) if op in per_op[n] else "- | -" for n in names]
        print("| %s | " % op + " | ".join(cells) + " |")
    sums = {n: sum(v[1] for v in per_op[n].values()) for n in names}
    nodes = {n: sum(v[0] for v in per_op[n].values()) for n in names}
    walls = {n: 1000 * float(np.median(wall[n])) for n in names}
    base = names[0]
    print("| kernel sum | " + " | ".join("%d | %.3f (%.2fx)" % (nodes[n], sums[n], sums[n] / sums[base])
                                         for n in names) + " |")
    print("| wall median | " + " | ".join("| %.3f (%.2fx)" % (walls[n], walls[n] / walls[base])
                                          for n in names) + " |")


if __name__ == "__main__":
    main()
