"""Extractor: as ncnn's, it computes each blob once per input; later extract() calls are served from
that run (a detector with several output heads costs one run, not one per head)."""
import numpy as np
import pytest

from helpers import layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.runtime import Net


class CountingNet(Net):
    """Net counting its runs (the runs are real)."""

    def __init__(self):
        super().__init__()
        self.runs = []

    def run(self, inputs, outputs, probe=None, out=None):
        self.runs.append(list(outputs))
        return super().run(inputs, outputs, probe, out)


def three_heads():
    """in -> conv -> relu (head a), sigmoid (head b), and an inner blob feeding both."""
    rng = np.random.default_rng(0)
    conv = layer("Convolution", "conv", ["x"], ["c"], {0: 4, 1: 1, 5: 1, 6: 12},
                 {"weight_data": rng.normal(0, 1, 12).astype(np.float32), "bias_data": np.zeros(4, np.float32)})
    net = CountingNet()
    net.graph = Graph([layer("Input", "in", [], ["x"], {0: 5, 1: 5, 2: 3}), conv,
                       layer("ReLU", "relu", ["c"], ["a"]), layer("Sigmoid", "sig", ["c"], ["b"]),
                       layer("TanH", "tanh", ["c"], ["t"])])
    net.opt.num_threads = 1
    return net


def test_extracting_every_output_runs_the_graph_once_per_input():
    net = three_heads()
    x = np.random.default_rng(1).normal(0, 1, (3, 5, 5)).astype(np.float32)
    whole = net.run({"x": x[None]}, ["a", "b", "t"])
    net.runs.clear()
    ex = net.create_extractor()
    ex.input("x", x)
    got = {name: ex.extract(name) for name in ("b", "a", "t", "a")}
    assert len(net.runs) == 1
    for name in ("a", "b", "t"):
        np.testing.assert_array_equal(got[name], whole[name][0])
    ex.input("x", x * 2)                      # a new input: computed again, once
    ex.extract("a")
    ex.extract("t")
    assert len(net.runs) == 2


def test_an_inner_blob_is_computed_with_the_outputs_and_kept():
    net = three_heads()
    x = np.ones((3, 5, 5), np.float32)
    ex = net.create_extractor()
    ex.input("x", x)
    c = ex.extract("c")
    ex.extract("c")
    ex.extract("b")
    assert len(net.runs) == 1 and set(net.runs[0]) == {"c", "a", "b", "t"}
    np.testing.assert_array_equal(c, net.run({"x": x[None]}, ["c"])["c"][0])


def test_an_unknown_blob_is_still_a_clear_error():
    ex = three_heads().create_extractor()
    ex.input("x", np.ones((3, 5, 5), np.float32))
    with pytest.raises(NcnnlikeError, match="no layer produces blob 'nope'"):
        ex.extract("nope")
