"""The zoo of tools/onnx_zoo.py: small ONNX graphs written the way torch's exporters write them.

Each builder returns (model, feeds, ids): feeds(n, seed) gives n inputs with the batch axis (the
graph takes one at a time), ids says the input is token ids (int64 in ONNX, int32 Mats in ncnn).
Weights are seeded; sizes are small so the whole flow runs in seconds.
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

I64 = np.int64


class _Builder:
    """Nodes and initializers under construction; names are made unique by a counter."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.k = [], {}, 0

    def const(self, value, hint="c"):
        self.k += 1
        name = "%s_%d" % (hint, self.k)
        self.inits[name] = np.asarray(value)
        return name

    def weight(self, *shape, scale=None):
        scale = scale or 1.0 / np.sqrt(np.prod(shape[1:]) if len(shape) > 1 else shape[0])
        return self.const((self.rng.standard_normal(shape) * scale).astype(np.float32), "w")

    def op(self, op_type, inputs, n_out=1, **attrs):
        self.k += 1
        outs = ["%s_%d_%d" % (op_type.lower(), self.k, i) for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name="%s_%d" % (op_type, self.k), **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, inputs, output, opset=17, int_inputs=()):
        values = [helper.make_tensor_value_info(k, TensorProto.INT64 if k in int_inputs else TensorProto.FLOAT, v)
                  for k, v in inputs.items()]
        self.nodes.append(helper.make_node("Identity", [output], ["output"], name="output"))
        g = helper.make_graph(self.nodes, "zoo", values, [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in self.inits.items()])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        return m

    # --- layers as torch exports them ------------------------------------------------------
    def conv(self, x, cin, cout, k=3, s=1, act="relu"):
        y = self.op("Conv", [x, self.weight(cout, cin, k, k), self.weight(cout, scale=0.1)], kernel_shape=[k, k],
                    strides=[s, s], pads=[k // 2] * 4)
        if act == "relu":
            return self.op("Relu", [y])
        if act == "silu":
            return self.op("Mul", [y, self.op("Sigmoid", [y])])
        return y

    def linear(self, x, cin, cout):
        """torch nn.Linear on a sequence: MatMul by W^T then Add bias."""
        return self.op("Add", [self.op("MatMul", [x, self.weight(cin, cout)]), self.weight(cout, scale=0.1)])

    def layernorm(self, x, dim):
        """The decomposed LayerNorm of older exports and paddle2onnx (Pow 2 of a negative d)."""
        mean = self.op("ReduceMean", [x], axes=[-1])
        d = self.op("Sub", [x, mean])
        var = self.op("ReduceMean", [self.op("Pow", [d, self.const(np.float32(2))])], axes=[-1])
        sd = self.op("Sqrt", [self.op("Add", [var, self.const(np.float32(1e-6))])])
        n = self.op("Div", [d, sd])
        g = self.const((1 + 0.1 * self.rng.standard_normal(dim)).astype(np.float32))
        return self.op("Add", [self.op("Mul", [n, g]), self.weight(dim, scale=0.1)])

    def gelu(self, x):
        e = self.op("Erf", [self.op("Div", [x, self.const(np.float32(np.sqrt(2)))])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.const(np.float32(1))])]),
                               self.const(np.float32(0.5))])

    def recurrent(self, kind, x, size, hidden, direction="forward"):
        """torch's nn.LSTM / nn.GRU (batch_first) export: X (T, 1, size) -> Y (T, D, 1, H)."""
        d = 2 if direction == "bidirectional" else 1
        gates = {"LSTM": 4, "GRU": 3}[kind]
        w, r = self.weight(d, gates * hidden, size, scale=0.3), self.weight(d, gates * hidden, hidden, scale=0.3)
        b = self.weight(d, 2 * gates * hidden, scale=0.1)
        attrs = {"linear_before_reset": 1} if kind == "GRU" else {}
        return self.op(kind, [x, w, r, b], n_out=3 if kind == "LSTM" else 2, hidden_size=hidden,
                       direction=direction, **attrs)[0], d


def _normal(shape):
    def feeds(n, seed=0):
        return np.random.default_rng(seed).standard_normal([n] + shape[1:]).astype(np.float32)
    return feeds


def _last_step_head(b, y, d, hidden, classes):
    """Y (T, D, 1, H) -> torch's batch_first output (1, T, D*H) -> y[:, -1] -> Linear."""
    yt = b.op("Transpose", [y], perm=[0, 2, 1, 3])
    yr = b.op("Reshape", [yt, b.const(np.array([0, 0, -1], I64))])
    yb = b.op("Transpose", [yr], perm=[1, 0, 2])
    last = b.op("Gather", [yb, b.const(np.array(-1, I64))], axis=1)
    return b.op("Gemm", [last, b.weight(classes, d * hidden), b.weight(classes, scale=0.1)], transB=1)


def rnn_classifier(kind, direction):
    def build():
        b = _Builder(3)
        T, F, H = 10, 8, 16
        x = b.op("Transpose", ["x"], perm=[1, 0, 2])
        y, d = b.recurrent(kind, x, F, H, direction)
        return b.model({"x": [1, T, F]}, _last_step_head(b, y, d, H, 5)), _normal([1, T, F]), False
    return build


def text_lstm():
    b = _Builder(4)
    T, V, E, H = 12, 50, 16, 16
    emb = b.op("Gather", [b.weight(V, E, scale=0.5), "ids"])
    x = b.op("Transpose", [emb], perm=[1, 0, 2])
    y, _ = b.recurrent("LSTM", x, E, H)
    seq = b.op("Transpose", [b.op("Squeeze", [y, b.const(np.array([1], I64))])], perm=[1, 0, 2])   # (1, T, H)
    last = b.op("Gather", [seq, b.const(np.array(-1, I64))], axis=1)
    out = b.op("Gemm", [last, b.weight(3, H), b.weight(3, scale=0.1)], transB=1)

    def feeds(n, seed=0):
        return np.random.default_rng(seed).integers(0, V, (n, T)).astype(I64)
    return b.model({"ids": [1, T]}, out, int_inputs=("ids",)), feeds, True


def _yolo_level(b, feat, cin, h, w, stride, anchors, nc=2):
    """v5-style level: 1x1 conv to 3*(5+nc), view (1, 3, 5+nc, h, w) -> (1, 3, h, w, 5+nc),
    Sigmoid, Split xy/wh/conf, xy = (2s - 0.5 + grid) * stride, wh = (2s)^2 * anchor."""
    no = 5 + nc
    p = b.op("Conv", [feat, b.weight(3 * no, cin, 1, 1), b.weight(3 * no, scale=0.1)], kernel_shape=[1, 1])
    p = b.op("Transpose", [b.op("Reshape", [p, b.const(np.array([1, 3, no, h, w], I64))])], perm=[0, 1, 3, 4, 2])
    s = b.op("Sigmoid", [p])
    xy, wh, conf = b.op("Split", [s, b.const(np.array([2, 2, nc + 1], I64))], n_out=3, axis=-1)
    gy, gx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    grid = np.stack([gx, gy], -1).reshape(1, 1, h, w, 2).astype(np.float32) - 0.5
    xy = b.op("Mul", [b.op("Add", [b.op("Mul", [xy, b.const(np.float32(2))]), b.const(grid)]),
                      b.const(np.float32(stride))])
    anchor = np.array(anchors, np.float32).reshape(1, 3, 1, 1, 2)
    wh = b.op("Mul", [b.op("Pow", [b.op("Mul", [wh, b.const(np.float32(2))]), b.const(np.float32(2))]),
                      b.const(anchor)])
    box = b.op("Concat", [xy, wh, conf], axis=-1)
    return b.op("Reshape", [box, b.const(np.array([1, 3 * h * w, no], I64))])


def yolo_head():
    b = _Builder(5)
    x = b.conv("x", 3, 8, s=2, act="silu")             # 16x16
    p3 = b.conv(x, 8, 16, s=2, act="silu")              # 8x8
    p4 = b.conv(p3, 16, 16, s=2, act="silu")            # 4x4
    p5 = b.conv(p4, 16, 16, s=2, act="silu")            # 2x2
    up = b.op("Resize", [p5, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    n4 = b.conv(b.op("Concat", [up, p4], axis=1), 32, 16, k=1, act="silu")
    levels = [_yolo_level(b, p3, 16, 8, 8, 4, [[4, 5], [8, 10], [12, 8]]),
              _yolo_level(b, n4, 16, 4, 4, 8, [[16, 20], [24, 16], [20, 30]]),
              _yolo_level(b, p5, 16, 2, 2, 16, [[40, 32], [32, 50], [60, 60]])]
    out = b.op("Concat", levels, axis=1)
    return b.model({"x": [1, 3, 32, 32]}, out), _normal([1, 3, 32, 32]), False


def vit_block():
    b = _Builder(6)
    E, heads, P, N = 32, 2, 8, 16
    hd = E // heads
    patches = b.op("Conv", ["x", b.weight(E, 3, P, P), b.weight(E, scale=0.1)], kernel_shape=[P, P], strides=[P, P])
    tokens = b.op("Transpose", [b.op("Reshape", [patches, b.const(np.array([1, E, N], I64))])], perm=[0, 2, 1])
    cls = b.const((0.1 * b.rng.standard_normal((1, 1, E))).astype(np.float32))
    t = b.op("Add", [b.op("Concat", [cls, tokens], axis=1), b.weight(1, N + 1, E, scale=0.1)])
    qkv = b.linear(b.layernorm(t, E), E, 3 * E)
    qkv = b.op("Transpose", [b.op("Reshape", [qkv, b.const(np.array([1, N + 1, 3, heads, hd], I64))])],
               perm=[2, 0, 3, 1, 4])
    q, k, v = (b.op("Gather", [qkv, b.const(np.array(i, I64))], axis=0) for i in range(3))
    scores = b.op("Mul", [b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])]),
                          b.const(np.float32(hd ** -0.5))])
    ctx = b.op("MatMul", [b.op("Softmax", [scores], axis=-1), v])
    ctx = b.op("Reshape", [b.op("Transpose", [ctx], perm=[0, 2, 1, 3]), b.const(np.array([1, N + 1, E], I64))])
    t = b.op("Add", [t, b.linear(ctx, E, E)])
    mlp = b.linear(b.gelu(b.linear(b.layernorm(t, E), E, 2 * E)), 2 * E, E)
    t = b.op("Add", [t, mlp])
    n = b.op("LayerNormalization", [t, b.const(np.ones(E, np.float32)), b.weight(E, scale=0.1)], axis=-1)
    cls_out = b.op("Gather", [n, b.const(np.array(0, I64))], axis=1)
    out = b.op("Gemm", [cls_out, b.weight(10, E), b.weight(10, scale=0.1)], transB=1)
    return b.model({"x": [1, 3, 32, 32]}, out), _normal([1, 3, 32, 32]), False


def seg_decoder():
    b = _Builder(7)
    e1 = b.conv("x", 3, 16, s=2)                        # 16x16
    e2 = b.conv(e1, 16, 32, s=2)                        # 8x8
    up = b.op("ConvTranspose", [e2, b.weight(32, 16, 3, 3), b.weight(16, scale=0.1)], kernel_shape=[3, 3],
              strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    d1 = b.op("Relu", [b.op("Add", [up, e1])])
    d1 = b.op("BatchNormalization", [d1, b.const(np.float32(1 + 0.1 * b.rng.standard_normal(16))),
                                     b.weight(16, scale=0.1), b.weight(16, scale=0.1),
                                     b.const(np.float32(1 + np.abs(b.rng.standard_normal(16))))])
    full = b.op("Resize", [d1, "", b.const(np.array([1, 1, 2, 2], np.float32))], mode="linear")
    out = b.op("Conv", [full, b.weight(4, 16, 1, 1), b.weight(4, scale=0.1)], kernel_shape=[1, 1])
    return b.model({"x": [1, 3, 32, 32]}, out), _normal([1, 3, 32, 32]), False


MODELS = {
    "lstm-classifier": rnn_classifier("LSTM", "forward"),
    "gru-classifier": rnn_classifier("GRU", "bidirectional"),
    "embed-lstm-text": text_lstm,
    "yolo-head": yolo_head,
    "vit-tiny-block": vit_block,
    "seg-decoder": seg_decoder,
}
