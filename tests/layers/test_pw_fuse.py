"""The 1x1 op fused with the residual add and the quantizing that follow it (layers/pw_fuse.py):
ncnn's outputs bit for bit (sim mode), at 1 and 2 threads; fused only where nothing else needs what
the fusion removes. Skipped where the CPU lacks AVX512-VNNI/VBMI."""
import collections

import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.graph import Graph
from ncnnlike.layers import pw_vnni
from ncnnlike.runtime.lower import lower_to_bytes
from test_pw_vnni import conv1x1

needs_kernel = pytest.mark.skipif(pw_vnni.dw_vnni.library() is None, reason="no AVX512-VNNI/VBMI here, or not built")
C = 16


def block(rng, add_with="x1", eltwise=False):
    """x -> [Split] -> 1x1 conv (float top) -> [BinaryOp add, or Eltwise sum, with `add_with`] -> next
    1x1 conv: the tail of an inverted-residual block and the next block's first conv."""
    pw = conv1x1(rng, C, C, 0, name="pw")
    pw.bottoms, pw.tops = ["x0"], ["y"]
    layers = [layer("Split", "split", ["x"], ["x0", "x1"]), pw]
    z = "y"
    if add_with is not None:
        layers.append(layer("Eltwise", "add", ["y", add_with], ["z"], {0: 1}) if eltwise else
                      layer("BinaryOp", "add", ["y", add_with], ["z"], {0: 0}))
        z = "z"
    nxt = conv1x1(rng, C, 8, 1, name="next")
    nxt.bottoms, nxt.tops = [z], ["out"]
    return layers + [nxt]


def fused_ops(layers, inputs, outputs):
    graph = Graph([layer("Input", "in_" + name, [], [name]) for name in inputs] + list(layers))
    ctx = lower_to_bytes(graph, {k: v.shape[1:] for k, v in inputs.items()}, outputs, int8="fast")[2]
    return collections.Counter(node.op_type for node in ctx.nodes)


def check_equals_sim(layers, inputs, outputs):
    sim = run_layers(layers, inputs, outputs, int8="sim")
    for threads in (1, 2):
        fast = run_layers(layers, inputs, outputs, int8=True, threads=threads)
        for blob in outputs:
            np.testing.assert_array_equal(fast[blob], sim[blob], err_msg="%s, %d threads" % (blob, threads))


@needs_kernel
@pytest.mark.parametrize("eltwise", [False, True])
@pytest.mark.parametrize("outputs,fused,kept", [
    (["out"], pw_vnni.OP_ADD_Q, []),
    (["out", "z"], pw_vnni.OP_ADD_Q, []),            # the sum is read outside the chain: still fused
    (["out", "y"], None, ["Add", "QuantizeInt8"]),   # the conv's own top is an output: not fused
])
def test_a_residual_block_tail_is_one_node_with_ncnns_outputs(outputs, fused, kept, eltwise):
    rng = np.random.default_rng(len(outputs) + len(kept))
    layers = block(rng, eltwise=eltwise)
    inputs = {"x": rng.normal(0, 2, (2, C, 5, 7)).astype(np.float32)}
    ops = fused_ops(layers, inputs, outputs)
    if fused is not None:
        assert ops[fused] == 1 and ops["Add"] == 0 and ops["QuantizeInt8"] == 1      # the input's quantize left
    for op_type in kept:
        assert ops[op_type] >= 1
    check_equals_sim(layers, inputs, outputs)


@needs_kernel
def test_a_conv_whose_top_only_feeds_the_next_conv_quantizes_in_its_store():
    rng = np.random.default_rng(7)
    layers = block(rng, add_with=None)
    inputs = {"x": rng.normal(0, 2, (1, C, 6, 6)).astype(np.float32)}
    ops = fused_ops(layers, inputs, ["out"])
    assert ops[pw_vnni.OP_Q] == 1 and ops[pw_vnni.OP_ADD_Q] == 0
    check_equals_sim(layers, inputs, ["out"])


@needs_kernel
def test_a_broadcasting_add_is_left_to_onnxruntime():
    rng = np.random.default_rng(8)
    layers = block(rng, add_with="b")
    inputs = {"x": rng.normal(0, 2, (2, C, 5, 7)).astype(np.float32),
              "b": rng.normal(0, 2, (2, C, 1, 1)).astype(np.float32)}
    ops = fused_ops(layers, inputs, ["out"])
    assert ops[pw_vnni.OP_ADD_Q] == 0 and ops["Add"] == 1
    check_equals_sim(layers, inputs, ["out"])
