"""A small CNN with one layer made deliberately hard to quantize, plus its minmax table (test data).

conv_a (3->8, 3x3, relu) -> conv_b (8->8, 1x1, relu; output channel 0 scaled x1000: a huge-range
channel) -> conv_c (8->8, 3x3, relu; ignores input channel 0) -> conv_d (8->8, 1x1) -> global avg pool
-> fc (8->10). conv_c's per-tensor activation scale is set by the huge channel it does not even read,
so int8 flattens every channel it does read to a few levels: conv_c is the layer that must stay float.
"""
import numpy as np

from helpers import layer
from ncnnlike.graph import Graph
from ncnnlike.quant.calibrate import measured_blobs
from ncnnlike.quant.methods import compute_table
from ncnnlike.quant.stats import CalibrationStats
from ncnnlike.quant.tablefile import write_table
from ncnnlike.runtime import Net

SHAPE = (3, 12, 12)
HARD = "conv_c"
LAYERS = ["conv_a", "conv_b", "conv_c", "conv_d", "fc"]


def conv(name, bottom, top, weight, bias, kernel, relu=True):
    out_c = weight.shape[0]
    params = {0: out_c, 1: kernel, 4: kernel // 2, 5: 1, 6: int(weight.size)}
    if relu:
        params[9] = 1
    return layer("Convolution", name, [bottom], [top], params,
                 {"weight_data": weight.astype(np.float32).reshape(-1), "bias_data": bias.astype(np.float32)})


def hard_graph(seed=0, huge=1000.0):
    """The model described above (weights He-normal from `seed`)."""
    rng = np.random.default_rng(seed)

    def he(*shape):
        return rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape)

    w_b = he(8, 8, 1, 1)
    w_b[0] = np.abs(w_b[0]) * huge
    w_c = he(8, 8, 3, 3)
    w_c[:, 0] = 0
    layers = [layer("Input", "in0", [], ["in0"], {0: SHAPE[2], 1: SHAPE[1], 2: SHAPE[0]}),
              conv("conv_a", "in0", "a", he(8, 3, 3, 3), rng.normal(0, 0.1, 8), 3),
              conv("conv_b", "a", "b", w_b, np.abs(rng.normal(0, 0.1, 8)), 1),
              conv("conv_c", "b", "c", w_c, rng.normal(0, 0.1, 8), 3),
              conv("conv_d", "c", "d", he(8, 8, 1, 1), rng.normal(0, 0.1, 8), 1, relu=False),
              layer("Pooling", "gap", ["d"], ["p"], {0: 1, 4: 1}),
              layer("InnerProduct", "fc", ["p"], ["out0"], {0: 10, 1: 1, 2: 80},
                    {"weight_data": he(10, 8).astype(np.float32).reshape(-1),
                     "bias_data": np.zeros(10, np.float32)})]
    return Graph(layers)


def batches(count=32, batch=8, seed=1):
    """Random input batches [{'in0': (N, 3, 12, 12)}]."""
    rng = np.random.default_rng(seed)
    return [{"in0": rng.normal(0, 1, (batch,) + SHAPE).astype(np.float32)} for _ in range(count // batch)]


def minmax_table(graph, samples, path):
    """Write the minmax table of `graph` over `samples` to `path` (absmax statistics, spec 5.3)."""
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    blobs = measured_blobs(graph)
    stats = CalibrationStats(blobs.keys())
    for batch in samples:
        out = net.run(batch, list(dict.fromkeys(blobs.values())))
        for name, blob in blobs.items():
            stats.update_absmax(name, out[blob])
    weight_lines, blob_lines, static_lines = compute_table(graph, stats, "minmax")
    write_table(str(path), weight_lines, blob_lines, static_lines)
    return str(path)
