"""runtime/nonnegative.py: which blobs are provably >= 0, and the fast int8 lowering leaving out the
-127 floor Clip only there (a value fed from outside keeps it)."""
import numpy as np

from helpers import layer
from ncnnlike.graph import Graph
from ncnnlike.layers import quantize_op
from ncnnlike.runtime import Net
from ncnnlike.runtime.lower import lower_layers
from ncnnlike.runtime.nonnegative import nonnegative_blobs


def conv(name, bottom, top, lo):
    """A float conv with a fused Clip(lo, 6) (activation_type 3)."""
    return layer("Convolution", name, [bottom], [top], {0: 4, 1: 1, 5: 1, 6: 8, 9: 3, 10: [lo, 6.0]})


def test_nonnegative_blobs_follow_activations_and_value_preserving_layers():
    layers = [conv("c6", "x", "a", 0.0), conv("clo", "x", "b", -1.0),
              layer("ReLU", "leaky", ["x"], ["c"], {0: 0.1}), layer("ReLU", "relu", ["x"], ["d"]),
              layer("Pooling", "pool", ["a"], ["e"], {0: 1, 1: 2, 2: 2}),
              layer("Split", "split", ["e"], ["e1", "e2"]),
              layer("Concat", "cat_pos", ["e1", "d"], ["f"]), layer("Concat", "cat_mix", ["e2", "b"], ["g"]),
              layer("Interp", "bicubic", ["d"], ["h"], {0: 3, 1: 2.0, 2: 2.0}),
              layer("Interp", "bilinear", ["d"], ["i"], {0: 2, 1: 2.0, 2: 2.0}),
              layer("Sigmoid", "sig", ["c"], ["j"]), layer("Dropout", "neg", ["d"], ["k"], {0: -1.0}),
              layer("Reduction", "mean", ["a"], ["m"], {0: 3}), layer("Reduction", "sumsq", ["x"], ["n"], {0: 2}),
              layer("Reduction", "sum", ["x"], ["o"], {0: 0}),
              layer("Reduction", "neg_l2", ["x"], ["p"], {0: 8, 2: -1.0})]
    assert nonnegative_blobs(layers) == {"a", "d", "e", "e1", "e2", "f", "i", "j", "m", "n"}


def int8_conv(bottom, top, c=8, term=2):
    """A 1x1 int8 conv with unit scales: its output is the quantized bottom's channel sum."""
    return layer("Convolution", "conv_" + top, [bottom], [top], {0: 1, 1: 1, 6: c, 8: term},
                 {"weight_data": np.ones(c, np.int8), "weight_data_int8_scales": np.float32([1.0]),
                  "bottom_blob_int8_scales": np.float32([1.0])})


def test_fast_lowering_keeps_the_floor_clip_only_for_bottoms_that_can_be_negative(monkeypatch):
    """On onnxruntime's QuantizeLinear (our own quantize op, layers/quantize_op.py, clamps inside)."""
    monkeypatch.setattr(quantize_op, "usable", lambda shape: False)
    layers = [layer("ReLU", "relu", ["x"], ["r"]), int8_conv("r", "y1"), int8_conv("x", "y2")]
    ctx = lower_layers(_graph(layers), {"x": (8, 2, 2)}, ["y1", "y2"], int8="fast", build="records")
    clips = [n for n in ctx.nodes if n.op_type == "Clip"]
    assert len(clips) == 1 and ctx.nodes[ctx.nodes.index(clips[0]) - 1].input[0] == "x"


def test_a_negative_value_fed_in_place_of_a_relu_output_is_still_clamped_at_minus_127():
    """Net.run may be given any inner blob: a value from outside is never assumed >= 0."""
    fed = np.float32([-300.0, -127.6, -3.0, 5.0]).reshape(1, 1, 1, 4)
    for mode in ("sim", "fast"):
        net = Net.from_graph(_graph([layer("ReLU", "relu", ["x"], ["r"]), int8_conv("r", "y", c=1)]))
        net.opt.use_int8_inference = mode
        np.testing.assert_array_equal(net.run({"r": fed}, ["y"])["y"].ravel(), [-127, -127, -3, 5])


def _graph(layers):
    return Graph([layer("Input", "in", [], ["x"])] + layers)
