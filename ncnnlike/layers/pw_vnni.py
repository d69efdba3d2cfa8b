"""The fast int8 path's 1x1 convolutions with a float top on our own kernel: ncnn's int8
Convolution (1x1, stride 1, no padding, one group, ReLU / ReLU6-Clip / no activation, not
requantized) as the onnxruntime custom op ncnnlike.PointwiseInt8 of the library
layers/_dw_vnni.c, on the same CPUs as the depthwise op (AVX512-VNNI and VBMI); and ncnn's int8
InnerProduct (the same activations), each row a pixel, in its two roundings (the op's fma=0):
Lite0's classifier in 0.076 ms against MatMulIntegerToFloat's 0.113 (tools/profile_int8.py --nodes).

Why: exact, where MatMulIntegerToFloat dequantizes in two roundings and ncnn's conv in one (fma);
and faster: on Lite0's 15 such layers (its projections), 0.89x of MatMulIntegerToFloat's kernel
time in the graph (docs/int8-speed.md). Like the depthwise op it reads NHWC between two Transposes
that cancel against onnxruntime's NHWC kernels, its output's shape stated. Requantized 1x1 convs
stay on QLinearConv (int8_fast.py). The ops PointwiseInt8Q and PointwiseInt8AddQ are this one fused
with the residual add and the quantizing that follow it (layers/pw_fuse.py)."""
import numpy as np

from ncnnlike.layers import dw_vnni
from ncnnlike.layers.lowering import FLOAT

OP = "PointwiseInt8"
OP_Q, OP_ADD_Q = "PointwiseInt8Q", "PointwiseInt8AddQ"    # fused with what follows: layers/pw_fuse.py


def usable(p, L, pads):
    """Whether a conv layer with a float top runs here: 1x1, stride 1, unpadded, one group, inputs a
    multiple of 4, ncnn's fma arithmetic, ReLU / Clip / no activation."""
    return (dw_vnni.library() is not None and L.kind == "conv" and L.s_top is None and L.fma and L.group == 1
            and L.weight.shape[2:] == (1, 1) and p.stride_h == p.stride_w == 1 and not any(pads)
            and L.weight.shape[1] % 4 == 0 and L.activation_type in (0, 1, 3))


def usable_ip(L):
    """Whether an int8 InnerProduct runs here: inputs a multiple of 4, ReLU / Clip / no activation."""
    return (dw_vnni.library() is not None and L.kind == "ip" and L.s_top is None and not L.fma
            and L.weight.shape[1] % 4 == 0 and L.activation_type in (0, 1, 3))


def pack(weight):
    """(ceil(n/16), k/4, 16, 4) int8: lane i byte j of block b, quad t = w[16b + i][4t + j]."""
    n, k = weight.shape
    w = np.zeros((-(-n // 16) * 16, k), np.int8)
    w[:n] = weight
    return np.ascontiguousarray(w.reshape(-1, 16, k // 4, 4).transpose(0, 2, 1, 3)).reshape(-1)


def constants(L):
    """(w, scale, bias, corr) arrays of the op's inputs."""
    w = L.weight.reshape(L.num_output, -1).astype(np.int8)
    bias = np.zeros(L.num_output, np.float32) if L.bias is None else np.asarray(L.bias, np.float32)
    corr = (128 * w.astype(np.int32).sum(1)).astype(np.int32)
    return pack(w), np.asarray(L.scale_in, np.float32), bias, corr


def _op(ctx, L, x):
    """The op on uint8 q+128 `x` (.., k), k last -> float (.., num_output)."""
    names = ("_pww", "_pwscale", "_pwbias", "_pwcorr")
    inputs = [x] + [ctx.const(a, L.name + n) for a, n in zip(constants(L), names)]
    lo, hi, _ = dw_vnni.activation_bounds(L, requantized=False)
    return ctx.op(OP, inputs, domain=dw_vnni.DOMAIN, act_lo=np.float32(lo), act_hi=np.float32(hi),
                  fma=int(L.fma), tasks=dw_vnni.tasks(ctx))


def lower(ctx, L, xq, shape):
    """The layer on uint8 q+128 NCHW `xq` -> float NCHW of ncnn shape `shape` (c, h, w)."""
    y = _op(ctx, L, ctx.op("Transpose", [xq], perm=[0, 2, 3, 1]))
    ctx.value_infos.append((y, FLOAT, ["N", shape[1], shape[2], shape[0]]))
    return ctx.op("Transpose", [y], perm=[0, 3, 1, 2])


def lower_ip(ctx, L, xq, shape):
    """InnerProduct on uint8 q+128 rows `xq` (N, .., k) -> float of ncnn shape `shape` (.., num_output)."""
    y = _op(ctx, L, xq)
    ctx.value_infos.append((y, FLOAT, ["N", *shape]))
    return y


def run(L, x):
    """The kernel on NHWC uint8 q+128 `x` (n, h, w, k), called directly (tests): float (n, h, w, c)."""
    from ncnnlike.layers import _dw_vnni
    n, h, w, k = x.shape
    y = np.empty((n, h, w, L.num_output), np.float32)
    lo, hi, _ = dw_vnni.activation_bounds(L, requantized=False)
    _dw_vnni.pointwise(np.ascontiguousarray(x, np.uint8), *constants(L), y, (n * h * w, k, L.num_output), (lo, hi),
                       bool(L.fma))
    return y
