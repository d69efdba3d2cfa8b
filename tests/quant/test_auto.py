"""method=auto (quant/methods/auto.py) on constructed layers: it keeps what matters to the layer's output."""
from collections import OrderedDict

import numpy as np

from helpers import layer
from ncnnlike.graph import Graph
from ncnnlike.quant import methods
from ncnnlike.quant.calibrate import measured_blobs
from ncnnlike.quant.methods import auto
from ncnnlike.quant.samples import BlobSamples
from ncnnlike.runtime import Net

RNG = np.random.default_rng(11)


def two_convs(activation, params, scale):
    """conv1 (1x1, `activation` fused) -> conv2 (1x1, reads every channel): conv2 measures conv1's
    bounded output. conv1's weights push many values far into the bounded region."""
    w1 = (np.eye(8) * scale).astype(np.float32)
    w2 = RNG.normal(0, 0.3, (8, 8)).astype(np.float32)
    p1 = {0: 8, 1: 1, 5: 1, 6: 64, 9: activation}
    if params is not None:
        p1[10] = params
    return Graph([layer("Input", "in", [], ["in0"], {0: 6, 1: 6, 2: 8}),
                  layer("Convolution", "conv1", ["in0"], ["a"], p1,
                        {"weight_data": w1.reshape(-1), "bias_data": np.zeros(8, np.float32)}),
                  layer("Convolution", "conv2", ["a"], ["out0"], {0: 8, 1: 1, 5: 1, 6: 64},
                        {"weight_data": w2.reshape(-1), "bias_data": np.zeros(8, np.float32)})])


def calibrate(graph, inputs):
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    samples = BlobSamples(measured_blobs(graph).values())
    lists = [[None] * len(inputs)]
    batches = [{"in0": inputs[i:i + 8]} for i in range(0, len(inputs), 8)]
    from ncnnlike.quant.calibrate import collect_absmax, collect_histograms
    stats = collect_absmax(net, lists, None, batches=iter(batches), progress=False)
    stats = collect_histograms(net, lists, None, stats, batches=iter(batches), progress=False, samples=samples)
    return stats, samples


def relu6_inputs(n=32):
    """Half the values land at ReLU6's bound 6, the rest spread over (0, 6) with a long quiet middle."""
    x = RNG.normal(0, 1, (n, 8, 6, 6)).astype(np.float32)
    return np.where(RNG.random(x.shape) < 0.12, 5.0, np.abs(x) * 0.3).astype(np.float32)


def test_auto_keeps_relu6s_bound_when_kl_clips_below_it():
    graph = two_convs(3, [0.0, 6.0], 2.0)        # Clip(0, 6): inputs of 5 x 2 saturate at 6
    stats, samples = calibrate(graph, relu6_inputs())
    conv2 = OrderedDict([("conv2", stats["conv2"])])
    assert stats["conv2"].absmax.absmax == np.float32(6.0)
    kl = methods.thresholds(conv2, "kl")["conv2"]
    chosen = auto.thresholds(graph, conv2, samples)["conv2"]
    assert kl < 5.0                  # the histogram divergence clips the saturated mass away
    assert chosen >= 6.0 * 0.999     # running conv2 shows that it hurts: auto keeps the bound


def test_auto_keeps_a_sigmoid_outputs_top_when_it_carries_the_signal():
    graph = two_convs(4, None, 4.0)               # sigmoid: most values near 0, 10% near 1
    x = np.where(RNG.random((32, 8, 6, 6)) < 0.1, 2.0, -1.5 + 0.2 * RNG.normal(size=(32, 8, 6, 6)))
    stats, samples = calibrate(graph, x.astype(np.float32))
    conv2 = OrderedDict([("conv2", stats["conv2"])])
    top = float(stats["conv2"].absmax.absmax)
    assert methods.thresholds(conv2, "kl")["conv2"] < 0.5 * top
    assert auto.thresholds(graph, conv2, samples)["conv2"] >= 0.99 * top


def test_auto_moves_off_the_percentile_only_for_a_much_smaller_output_error():
    """A bimodal blob like PP-OCR's p2o.Conv.14 bottom: 99.5% small values, 0.5% large ones that
    carry conv2's output. The 99.99th percentile sits inside the large mode; absmax halves the
    output error of the clipped top, so auto takes it; with a margin no candidate reaches, it keeps
    the percentile. Candidates never clip more than 0.01% of the values."""
    graph = two_convs(0, None, 1.0)
    x = np.where(RNG.random((32, 8, 6, 6)) < 0.005, RNG.uniform(5, 10, (32, 8, 6, 6)),
                 RNG.normal(0, 0.05, (32, 8, 6, 6))).astype(np.float32)
    stats, samples = calibrate(graph, x)
    floor = auto.percentile.threshold(stats["conv2"], auto.KEEP)
    threshold, errors = auto.choose(graph.layer("conv2"), stats["conv2"], samples["a"])
    assert min(errors) >= floor * 0.9999 and threshold in errors
    best = min(errors, key=errors.get)
    assert threshold == (best if errors[best] * auto.MARGIN < errors[min(errors)] else min(errors))
    assert auto.choose(graph.layer("conv2"), stats["conv2"], samples["a"], margin=1e9)[0] == min(errors)


def test_model2table_method_auto_collects_samples_and_writes_a_table(tmp_path):
    from ncnnlike.cli.model2table import calibrate as cli_calibrate
    graph = two_convs(3, [0.0, 6.0], 2.0)
    for i, x in enumerate(relu6_inputs(6)):
        np.save(tmp_path / ("%d.npy" % i), x)
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join("%s\n" % (tmp_path / ("%d.npy" % i)) for i in range(6)))
    weights, blobs, _, stats, thresholds, adjust = cli_calibrate(graph, [str(listfile)],
                                                                 {"type": "1", "shape": "[6,6,8]"}, "auto", {}, 1, 2)
    assert list(blobs) == ["conv1", "conv2"] and not adjust
    assert blobs["conv2"][0] == np.float32(methods.blob_scale(thresholds["conv2"]))
