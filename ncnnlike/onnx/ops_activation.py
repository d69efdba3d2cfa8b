"""Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu, Gelu, Mish,
Softmax and the UnaryOp family (spec 3 param ids)."""
import numpy as np

from ncnnlike.onnx.importer import converter

FLT_MAX = float(np.finfo(np.float32).max)

_SIMPLE = {"Sigmoid": "Sigmoid", "Tanh": "TanH", "Mish": "Mish"}

# UnaryOp op_type (spec 3)
_UNARY = {"Abs": 0, "Neg": 1, "Floor": 2, "Ceil": 3, "Sqrt": 5, "Exp": 7, "Log": 8, "Sin": 9,
          "Cos": 10, "Tan": 11, "Asin": 12, "Acos": 13, "Atan": 14, "Reciprocal": 15, "Round": 18,
          "Sign": 20, "Sinh": 22, "Asinh": 23, "Cosh": 24, "Acosh": 25, "Atanh": 26}


def _unary_layer(ctx, node, type_name, params=None):
    """One layer, same shape in and out: keeps the input's actual shape (no Reshape needed)."""
    blob, shape = ctx.actual(node.input[0])
    ctx.add(type_name, [blob], [node.output[0]], params or {}, shapes=[shape])


@converter(*_SIMPLE)
def simple(ctx, node):
    _unary_layer(ctx, node, _SIMPLE[node.op_type])


@converter(*_UNARY)
def unary(ctx, node):
    _unary_layer(ctx, node, "UnaryOp", {0: _UNARY[node.op_type]})


@converter("Relu")
def relu(ctx, node):
    _unary_layer(ctx, node, "ReLU")


@converter("LeakyRelu")
def leaky_relu(ctx, node):
    _unary_layer(ctx, node, "ReLU", {0: float(ctx.attrs(node).get("alpha", 0.01))})


@converter("Elu")
def elu(ctx, node):
    _unary_layer(ctx, node, "ELU", {0: float(ctx.attrs(node).get("alpha", 1.0))})


@converter("HardSigmoid")
def hard_sigmoid(ctx, node):
    a = ctx.attrs(node)
    _unary_layer(ctx, node, "HardSigmoid", {0: float(a.get("alpha", 0.2)), 1: float(a.get("beta", 0.5))})


@converter("HardSwish")
def hard_swish(ctx, node):
    """ONNX HardSwish is x * clamp(x/6 + 1/2, 0, 1): alpha = 1/6 written explicitly (spec 3)."""
    _unary_layer(ctx, node, "HardSwish", {0: 1.0 / 6.0, 1: 0.5})


@converter("Gelu")
def gelu(ctx, node):
    fast = ctx.attrs(node).get("approximate", "none") == "tanh"
    _unary_layer(ctx, node, "GELU", {0: int(fast)})


@converter("Clip")
def clip(ctx, node):
    """min/max from attributes (opset < 11) or constant inputs; absent bounds are -/+FLT_MAX."""
    a = ctx.attrs(node)
    lo, hi = a.get("min", -FLT_MAX), a.get("max", FLT_MAX)
    if ctx.has_input(node, 1):
        lo = float(ctx.const_input(node, 1))
    if ctx.has_input(node, 2):
        hi = float(ctx.const_input(node, 2))
    if lo == 0.0 and hi >= FLT_MAX:
        _unary_layer(ctx, node, "ReLU")
        return
    _unary_layer(ctx, node, "Clip", {0: max(float(lo), -FLT_MAX), 1: min(float(hi), FLT_MAX)})


@converter("PRelu")
def prelu(ctx, node):
    """PReLU with one slope per channel (ncnn axis 0, spec 3) or one shared slope."""
    slope = ctx.const_input(node, 1).astype(np.float32)
    x = node.input[0]
    if slope.size == 1:
        values = slope.reshape(1)
    else:
        full = np.broadcast_to(slope, ctx.shape(x)).reshape(ctx.shape(x)[1], -1)
        if not np.all(full == full[:, :1]):
            ctx.fail("PRelu slope of shape %s is not per channel" % (list(slope.shape),))
        values = full[:, 0]
    ctx.add("PReLU", [ctx.blob(x)], [node.output[0]], {0: int(values.size)}, [values])


@converter("Softmax", "LogSoftmax")
def softmax(ctx, node):
    """Softmax over one axis (opset >= 13; older opsets only when the flattened tail is that axis)."""
    x = node.input[0]
    r = ctx.rank(x)
    opset13 = ctx.opset >= 13
    axis = int(ctx.attrs(node).get("axis", -1 if opset13 else 1))
    axis = axis + r if axis < 0 else axis
    if not opset13 and int(np.prod(ctx.shape(x)[axis + 1:])) != 1:
        ctx.fail("Softmax (opset < 13) over several flattened axes is not supported")
    y = node.output[0] if node.op_type == "Softmax" else ctx.fresh(node.output[0] + "_softmax")
    shape = ctx.ncnn_shape(x)
    ctx.add("Softmax", [ctx.blob(x)], [y], {0: ctx.axis(x, axis), 1: 1}, shapes=[shape])
    if node.op_type == "LogSoftmax":
        ctx.add("UnaryOp", [ctx.blob(y)], [node.output[0]], {0: _UNARY["Log"]})
