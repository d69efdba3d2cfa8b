"""ncnn's fused activations (spec 3, fused_activation.h), shared by conv-like layers and InnerProduct.

Special inputs follow pip ncnn's x86 vector code (x86_activation.h; measured on AVX-512, 16 lanes):
  sigmoid  1/(1+exp(-x)) with exp_ps's clamp: NaN gives 4.15602844e-39 = 1/(1+exp(88.376)) (the
           8- and 4-lane code gives 0 there; both are 0 to any tolerance). onnxruntime's Sigmoid
           returns exactly 0 below about -17.3 where ncnn gives e^x (2.1e-9 at -20): an absolute
           difference under 1e-7, kept for speed.
  mish     x * tanh(softplus(x)) matches ncnn's 16-lane code; ncnn's 8- and 4-lane code (an AVX2-only
           CPU's body, a row's remainder on AVX-512) computes tanh(0) as -2^-24 through the CPU's
           rcpps, so there mish(x) = -x * 2^-24 > 0 for x < -17 (6e-6 at -100, 596 at -1e10):
           CPU-specific, not reproduced.
  relu, clip, hardswish: a NaN (hardswish: -inf) input gives NaN or a number depending on the lane
           (operand order of maxps/minps in the fast-math build): ours NaN.
"""
import numpy as np

SIGMOID_CLAMP = 88.3762626647949
SIGMOID_OF_NAN = np.float32(4.15602844e-39)   # exp_ps reads NaN as +88.376: 1 / (1 + 2.40614363e38)


def sigmoid(ctx, x):
    """ncnn's sigmoid: the input clamped to +-88.3762626647949, NaN -> SIGMOID_OF_NAN."""
    clamped = ctx.op("Clip", [x, ctx.const(np.float32(-SIGMOID_CLAMP)), ctx.const(np.float32(SIGMOID_CLAMP))])
    return ctx.op("Where", [ctx.op("IsNaN", [x]), ctx.const(SIGMOID_OF_NAN), ctx.op("Sigmoid", [clamped])])


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
        return sigmoid(ctx, x)
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
        y = 1 / (1 + np.exp(-np.clip(v, -SIGMOID_CLAMP, SIGMOID_CLAMP)))
        return np.where(np.isnan(v), SIGMOID_OF_NAN, y).astype(np.float32)
    if t == 5:
        return v * np.tanh(np.log1p(np.exp(v)))
    if t == 6:
        alpha, beta = np.float32(a[0]), np.float32(a[1])
        return v * np.clip(alpha * v + beta, 0, 1)
    raise ValueError("unknown activation_type %d" % t)
