"""ncnn's fused activations (spec 3, fused_activation.h), shared by conv-like layers and InnerProduct."""
import numpy as np

SIGMOID_CLAMP = 88.3762626647949


def lower_fused(ctx, x, activation_type, activation_params):
    """Emit the ONNX nodes of fused activation `activation_type` on float tensor `x`."""
    t = int(activation_type)
    a = list(activation_params or [])
    if t == 0:
        return x
    if t == 1:
        return ctx.op("Relu", [x])
    if t == 2:
        return ctx.op("LeakyRelu", [x], alpha=float(a[0]))
    if t == 3:
        return ctx.op("Clip", [x, ctx.const(np.float32(a[0])), ctx.const(np.float32(a[1]))])
    if t == 4:
        clamped = ctx.op("Clip", [x, ctx.const(np.float32(-SIGMOID_CLAMP)), ctx.const(np.float32(SIGMOID_CLAMP))])
        return ctx.op("Sigmoid", [clamped])
    if t == 5:
        return ctx.op("Mul", [x, ctx.op("Tanh", [ctx.op("Softplus", [x])])])
    if t == 6:
        alpha, beta = float(a[0]), float(a[1])
        gate = ctx.op("HardSigmoid", [x], alpha=alpha, beta=beta)
        return ctx.op("Mul", [x, gate])
    raise ValueError("unknown activation_type %d" % t)


def apply_fused(v, activation_type, activation_params):
    """numpy reference of the fused activations (for tests and int8 simulation)."""
    t = int(activation_type)
    a = list(activation_params or [])
    v = np.asarray(v, dtype=np.float32)
    if t == 0:
        return v
    if t == 1:
        return np.maximum(v, 0)
    if t == 2:
        return np.where(v > 0, v, v * np.float32(a[0]))
    if t == 3:
        return np.clip(v, np.float32(a[0]), np.float32(a[1]))
    if t == 4:
        return 1 / (1 + np.exp(-np.clip(v, -SIGMOID_CLAMP, SIGMOID_CLAMP)))
    if t == 5:
        return v * np.tanh(np.log1p(np.exp(v)))
    if t == 6:
        alpha, beta = np.float32(a[0]), np.float32(a[1])
        return v * np.clip(alpha * v + beta, 0, 1)
    raise ValueError("unknown activation_type %d" % t)
