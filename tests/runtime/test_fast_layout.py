"""The fast int8 Lite0 graph runs channels-last from its first convolution to its last in onnxruntime:
its layout transformer turns every QLinearConv into com.microsoft's NHWC kernel (the symmetric VNNI
depthwise one among them) and the transposes of the lowering cancel, leaving the pooled output's and,
where our QuantizeInt8 cannot write the stem's input channels-last (layers/quantize_op.lower_packed),
the input's. Measured with tools/proto_dw_int8.py: the same graph without that transformer
(ORT_ENABLE_EXTENDED, 30 Transposes) runs at 0.62x our fp32 time instead of 0.52x."""
import os

import pytest

from helpers import REFERENCE
from ncnnlike.layers import dw_vnni
from tools import common

onnx = pytest.importorskip("onnx")
LITE0 = os.path.join(REFERENCE, "lite0")


def optimized_graph(tmp_path):
    """The fast Lite0 graph as onnxruntime optimizes it with the runtime's session options."""
    import onnxruntime as ort
    from ncnnlike.runtime.lower import lower_to_bytes
    pair = common.make_int8(os.path.join(LITE0, "lite0-kl.table"), str(tmp_path / "int8.param"),
                            str(tmp_path / "int8.bin"))
    net = common.our_net(*pair, True, 1)
    data, _, _, external = lower_to_bytes(net.graph, {common.INPUT: (3, 224, 224)}, [common.OUTPUT], int8="fast")
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    so.add_external_initializers([n for n, _ in external], [ort.OrtValue.ortvalue_from_numpy(a) for _, a in external])
    if dw_vnni.library():
        dw_vnni.register(so)
    ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    return onnx.load(str(tmp_path / "optimized.onnx"), load_external_data=False).graph


def test_every_quantized_conv_runs_channels_last_and_only_two_transposes_remain(tmp_path, kernels):
    graph = optimized_graph(tmp_path)
    convs = [n for n in graph.node if n.op_type == "QLinearConv"]
    ours = [n for n in graph.node if n.op_type == dw_vnni.OP]    # Lite0's 16 depthwise, where the CPU runs them
    assert len(convs) + len(ours) == 34 and len(ours) == (16 if dw_vnni.library() else 0)
    assert all(n.domain == "com.microsoft" and any(a.name == "channels_last" and a.i == 1 for a in n.attribute)
               for n in convs)
    assert sum(n.op_type == "Transpose" for n in graph.node) == (1 if dw_vnni.library() else 2)
    assert sum(n.op_type == "Pad" for n in graph.node) == (0 if dw_vnni.library() else 1)
