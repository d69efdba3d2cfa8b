"""Lowering for the runtime: graph outputs named without an extra copy, same values."""
import os

import numpy as np

from helpers import REFERENCE
from ncnnlike.io.model import load_model
from ncnnlike.runtime import Net
from ncnnlike.runtime.lower import lower_to_bytes

TINY = os.path.join(REFERENCE, "tiny")


def tiny_graph():
    return load_model(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"))


def test_computed_blobs_are_outputs_themselves_and_inputs_pass_through_an_identity():
    graph = tiny_graph()
    inner = [b for layer in graph for b in layer.tops if layer.type == "Convolution"][:2]
    _, names, ctx, _ = lower_to_bytes(graph, {"in0": (3, 32, 32)}, inner + ["in0", inner[0]], int8=False)
    assert names[:2] == [ctx.float_of(b) for b in inner] and not names[0].startswith("out:")
    assert names[2:] == ["out:in0:0", "out:%s:0" % inner[0]]


def test_outputs_equal_one_blob_at_a_time_and_the_input_comes_back_unchanged():
    graph = tiny_graph()
    net = Net.from_graph(graph)
    net.opt.use_int8_inference = False
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    blobs = [b for layer in graph for b in layer.tops if layer.type in ("Convolution", "InnerProduct")]
    together = net.run({"in0": x}, blobs + ["in0"])
    assert np.array_equal(together["in0"], x)
    for blob in blobs:
        assert np.array_equal(together[blob], net.run({"in0": x}, [blob])[blob])
