"""A float64 evaluation of an ONNX model: what its float32 runtimes should all approach.

The model is cast to double (float initializers, Constant tensors, Cast-to-float, graph inputs and
outputs) and run by onnx.reference (numpy), whose operators compute in the dtype they are given.
onnxruntime has no double Conv, hence the reference evaluator. One fix: onnx.reference's
BatchNormalization-9 uses the batch statistics whenever `momentum` is set (the schema default
fills it in), where the spec and onnxruntime use the running mean and variance.
"""
import numpy as np
import onnx
from onnx import TensorProto, numpy_helper
from onnx.reference import ReferenceEvaluator
from onnx.reference.op_run import OpRun


class BatchNormalization(OpRun):
    """Inference-mode BatchNormalization in the input's dtype."""

    op_domain = ""

    def _run(self, x, scale, bias, mean, var, epsilon=None, momentum=None, training_mode=None):
        shape = (-1,) + (1,) * (x.ndim - 2)
        y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + epsilon) * scale.reshape(shape)
        return ((y + bias.reshape(shape)).astype(x.dtype),)


def _double(tensor):
    return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float64), tensor.name)


def to_double(model):
    """A copy of `model` computing in float64 (value_info dropped: shapes are re-derived)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    for i, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT:
            graph.initializer[i].CopyFrom(_double(tensor))
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(_double(attr.t))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.DOUBLE
    for value in list(graph.input) + list(graph.output):
        if value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.DOUBLE
    del graph.value_info[:]
    return model


class Float64Model:
    """run(outputs, feeds) of an ONNX model in float64; float32 feeds are widened."""

    def __init__(self, path_or_model):
        model = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
        self.evaluator = ReferenceEvaluator(to_double(model), new_ops=[BatchNormalization])

    def run(self, outputs, feeds):
        wide = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in feeds.items()}
        return self.evaluator.run(outputs, wide)
