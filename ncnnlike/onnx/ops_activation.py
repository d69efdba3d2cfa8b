"""Activations: Relu, LeakyRelu, PRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu, Gelu, Mish,
Softplus, Erf, Softmax and the UnaryOp family (spec 3 param ids), and the activations fuse.py
rebuilds from decomposed chains (ncnnlike.HardSwish with its alpha/beta, ncnnlike.Swish).

Softplus: ncnn computes log(exp(x) + 1) as written, inf for x > ~88.7 where ONNX gives x, so it
runs on min(x, 80) and x - 80 is added back above 80 (Softplus(80) is 80 in float32)."""
import numpy as np

from ncnnlike.onnx.importer import converter, shape_params
from ncnnlike.onnx.ops_elementwise import ADD, MAX, MIN, MUL, SUB, binary

FLT_MAX = float(np.finfo(np.float32).max)

_SIMPLE = {"Sigmoid": "Sigmoid", "Tanh": "TanH", "Mish": "Mish", "Erf": "Erf"}
SOFTPLUS_LINEAR = 80.0

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


@converter("Selu")
def selu(ctx, node):
    a = ctx.attrs(node)
    _unary_layer(ctx, node, "SELU", {0: float(a.get("alpha", 1.67326319217681884765625)),
                                     1: float(a.get("gamma", 1.05070102214813232421875))})


@converter("Celu")
def celu(ctx, node):
    _unary_layer(ctx, node, "CELU", {0: float(ctx.attrs(node).get("alpha", 1.0))})


@converter("Shrink")
def shrink(ctx, node):
    a = ctx.attrs(node)
    _unary_layer(ctx, node, "Shrink", {0: float(a.get("bias", 0.0)), 1: float(a.get("lambd", 0.5))})


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
    """min/max from attributes (opset < 11) or inputs; absent bounds are -/+FLT_MAX. Scalar
    constant bounds -> Clip (ReLU for [0, inf)); tensor or computed bounds -> BinaryOp max / min."""
    a = ctx.attrs(node)
    lo, hi = a.get("min", -FLT_MAX), a.get("max", FLT_MAX)
    bounds = [None, None]
    for k in (1, 2):
        if ctx.has_input(node, k):
            value = ctx.const(node.input[k])
            if value is not None and value.size == 1:
                lo, hi = (float(value.ravel()[0]), hi) if k == 1 else (lo, float(value.ravel()[0]))
            else:
                bounds[k - 1] = node.input[k]
    if bounds != [None, None]:
        _tensor_clip(ctx, node, lo, hi, bounds)
    elif lo == 0.0 and hi >= FLT_MAX:
        _unary_layer(ctx, node, "ReLU")
    else:
        _unary_layer(ctx, node, "Clip", {0: max(float(lo), -FLT_MAX), 1: min(float(hi), FLT_MAX)})


def _tensor_clip(ctx, node, lo, hi, bounds):
    """max(x, lo) then min(., hi), each bound a scalar or a tensor (broadcast by binary())."""
    x, y = node.input[0], node.output[0]
    low = bounds[0] or ctx.new_const(y + "_min", np.float32(max(lo, -FLT_MAX)))
    high = bounds[1] or ctx.new_const(y + "_max", np.float32(min(hi, FLT_MAX)))
    mid = ctx.fresh(y + "_lower", ctx.shape(y))
    binary(ctx, x, low, mid, MAX)
    binary(ctx, mid, high, y, MIN)


@converter("PRelu")
def prelu(ctx, node):
    """PReLU with one slope per channel (ncnn axis 0, spec 3) or one shared slope; a slope that
    varies along other axes runs as ReLU(x) + slope * min(x, 0)."""
    slope = ctx.const_input(node, 1).astype(np.float32)
    x = node.input[0]
    shape = ctx.shape(x)
    if slope.size == 1:
        ctx.add("PReLU", [ctx.blob(x)], [node.output[0]], {0: 1}, [slope.reshape(1)])
        return
    full = np.broadcast_to(slope, shape).reshape(shape[1], -1) if len(shape) > 1 else None
    if full is not None and ctx.batch_axis(x) == 0 and np.all(full == full[:, :1]):
        values = np.ascontiguousarray(full[:, 0])
        ctx.add("PReLU", [ctx.blob(x)], [node.output[0]], {0: int(values.size)}, [values])
        return
    y = node.output[0]
    pos, neg, scaled = (ctx.fresh(y + k, shape) for k in ("_pos", "_neg", "_scaled"))
    ctx.add("ReLU", [ctx.blob(x)], [pos])
    binary(ctx, x, ctx.new_const(y + "_zero", np.float32(0)), neg, MIN)
    binary(ctx, neg, node.input[1], scaled, MUL)
    binary(ctx, pos, scaled, y, ADD)


@converter("Softplus")
def softplus(ctx, node):
    """Softplus(min(x, 80)) + ReLU(x - 80): ncnn's log(exp(x) + 1) never overflows (see above)."""
    x, y = node.input[0], node.output[0]
    blob, actual = ctx.actual(x)
    low, soft, over, linear = (ctx.fresh(y + k) for k in ("_low", "_soft", "_over", "_linear"))
    ctx.add("Clip", [blob], [low], {0: -FLT_MAX, 1: SOFTPLUS_LINEAR}, shapes=[actual])
    ctx.add("Softplus", [ctx.actual(low)[0]], [soft], shapes=[actual])
    ctx.add("BinaryOp", [blob], [over], {0: SUB, 1: 1, 2: SOFTPLUS_LINEAR}, shapes=[actual])
    ctx.add("ReLU", [ctx.actual(over)[0]], [linear], shapes=[actual])
    ctx.add("BinaryOp", [ctx.actual(soft)[0], ctx.actual(linear)[0]], [y], {0: ADD}, shapes=[actual])


@converter("ncnnlike.HardSwish")
def fused_hard_swish(ctx, node):
    a = ctx.attrs(node)
    _unary_layer(ctx, node, "HardSwish", {0: float(a["alpha"]), 1: float(a["beta"])})


@converter("ncnnlike.Swish")
def fused_swish(ctx, node):
    _unary_layer(ctx, node, "Swish")


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
    shape = tuple(ctx.ncnn_shape(x))
    ncnn_axis = ctx.axis(x, axis)
    if _long_packed_rows(shape, ncnn_axis):
        _softmax_rows_unpacked(ctx, x, y, shape)
    else:
        ctx.add("Softmax", [ctx.blob(x)], [y], {0: ncnn_axis, 1: 1}, shapes=[shape])
    if node.op_type == "LogSoftmax":
        ctx.add("UnaryOp", [ctx.blob(y)], [node.output[0]], {0: _UNARY["Log"]})


LONG_ROW = 1024        # measured on 8 packed rows: 512 classes 2e-6 off float64, 1024 3e-6, 4096 1.6e-5


def _long_packed_rows(shape, axis):
    """A softmax along w of rows that ncnn packs (outer dim a multiple of 4) and that are long.

    ncnn's x86/arm Softmax sums exp() of a packed row in 16/elempack partial sums, sequentially
    along w: over PP-OCRv4's 6625 classes (rows packed by 8) a probability is off by up to 1e-5
    (the tiny terms added to ~1 are lost), against 1e-6 for an unpacked row (16 lanes)."""
    return len(shape) >= 2 and axis == len(shape) - 1 and shape[-1] >= LONG_ROW and shape[0] % 4 == 0


def _softmax_rows_unpacked(ctx, x, y, shape):
    """Softmax along w on a one-channel 3-D view of the rows (ncnn never packs one channel), then
    back to the blob's shape: Reshape, Softmax 0=2, Reshape."""
    view = (1, int(np.prod(shape[:-1])), shape[-1])
    rows = ctx.fresh(y + "_rows", (1,) + view)
    name = ctx.node.name
    ctx.add("Reshape", [ctx.blob(x)], [rows], shape_params(view), shapes=[view], name=name + "_rows")
    done = ctx.fresh(y + "_rows_softmax", (1,) + view)
    ctx.add("Softmax", [ctx.blob(rows)], [done], {0: 2, 1: 1}, shapes=[view])
    ctx.add("Reshape", [ctx.blob(done)], [y], shape_params(shape), shapes=[shape], name=name + "_unrows")
