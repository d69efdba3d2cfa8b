"""The fast int8 path's depthwise convolution on our own kernel: ncnn's requantizing int8 depthwise
(ReLU, ReLU6/Clip or no activation) as the onnxruntime custom op ncnnlike.DepthwiseInt8 of the
compiled library layers/_dw_vnni.c, on CPUs with AVX512-VNNI and AVX512-VBMI.

Why: onnxruntime's own int8 depthwise kernel is no faster than its fp32 one (docs/int8-speed.md);
this one is 1.3-1.4x faster than it in Lite0's graph (1.5-1.6x alone), and exact: its outputs are ncnn's (our sim
mode's), where QLinearConv + Clip differ by one step on a few outputs. It reads and writes NHWC
uint8 q+128: the lowering wraps it in two Transposes, which cancel against those of onnxruntime's
NHWC QLinearConv, so that the graph stays channels-last.

Where the library was not built (no C compiler), the CPU lacks those instructions, or
NCNNLIKE_DW_VNNI=0, int8_fast lowers depthwise layers to QLinearConv as before."""
import functools
import os

import numpy as np

from ncnnlike.layers.lowering import UINT8

DOMAIN = "ncnnlike"
OP = "DepthwiseInt8"
MAX_KH = 16                       # kernel rows the kernel holds (_dw_vnni_kernel.h DW_MAX_KH)


@functools.lru_cache(maxsize=None)
def library_file():
    """Path of the custom-op library where it was built, else None. Any CPU loads it; its int8 ops
    are registered only where the CPU runs them (library())."""
    try:
        from ncnnlike.layers import _dw_vnni
    except ImportError:
        return None
    return _dw_vnni.__file__


@functools.lru_cache(maxsize=None)
def library():
    """Path of the custom-op library when this machine runs its int8 ops, else None."""
    if os.environ.get("NCNNLIKE_DW_VNNI", "1") == "0" or library_file() is None:
        return None
    from ncnnlike.layers import _dw_vnni
    return library_file() if _dw_vnni.supported() else None


def tasks(ctx):
    """The ops' `tasks` attribute: the session's intra-op threads (LowerCtx.threads), 1 to 1024."""
    return max(1, min(int(ctx.threads), 1024))


def register(session_options):
    """Let an onnxruntime session of a graph with nodes of the library's ops load it."""
    session_options.register_custom_ops_library(library_file())


def usable(p, L, pads):
    """Whether a depthwise layer that requantizes (term > 100, ReLU/Clip/no activation) runs here."""
    kh, kw = L.weight.shape[2:]
    return (library() is not None and L.group == L.num_output and L.weight.shape[1] == 1 and not L.fma
            and p.dilation_h == p.dilation_w == 1 and kh <= MAX_KH and kh * -(-kw // 4) <= 16
            and 1 <= p.stride_h <= 64 and 1 <= p.stride_w <= 64 and all(0 <= v <= MAX_KH for v in pads))


def pack_lanes(wq, kh, kw):
    """The kernel's weights: (groups, kh, ceil(kw/4), 64) int8, lane i byte k of quad q =
    w[ky][4q + k] of channel 16g + i; zero past the kernel or the channels. wq: (c, kh, kw) int8."""
    c = wq.shape[0]
    groups, nq = -(-c // 16), -(-kw // 4)
    w = np.zeros((groups * 16, kh, nq * 4), np.int8)
    w[:c, :, :kw] = wq
    return np.ascontiguousarray(w.reshape(groups, 16, kh, nq, 4).transpose(0, 2, 3, 1, 4)).reshape(-1)


def largest_below_128(s_top):
    """The largest float32 v >= 0 with trunc(float32(v * s_top) + 0.5) <= 127 (monotone in v: a binary
    search over the bit patterns), or None: where an activation bounds v to [0, that], the kernel's
    +-127 clamp cannot act and is left out."""
    s_top, half = np.float32(s_top), np.float32(0.5)

    def q(bits):
        v = np.array([bits], np.uint32).view(np.float32)[0]
        with np.errstate(over="ignore", invalid="ignore"):
            return np.trunc(np.float32(np.float32(v * s_top) + half))

    lo, hi = 0, 0x7F7FFFFF
    if not q(lo) <= 127:
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if q(mid) <= 127:
            lo = mid
        else:
            hi = mid - 1
    return float(np.array([lo], np.uint32).view(np.float32)[0])


def activation_bounds(L, requantized=True):
    """(act_lo, act_hi, bounded) of the float clamp of the activation: ReLU [0, inf), Clip [a, b],
    none (-inf, inf); before a requantization, act_hi lowered to largest_below_128 where that makes
    the +-127 clamp inert."""
    lo, hi = ((float(L.activation_params[0]), float(L.activation_params[1])) if L.activation_type == 3 else
              (0.0, float("inf")) if L.activation_type == 1 else (float("-inf"), float("inf")))
    top = largest_below_128(L.s_top) if lo >= 0 and requantized else None
    if top is not None and top <= hi:
        return lo, top, 1
    return lo, hi, 0


def constants(L):
    """(wv, scale, bias, corr) arrays of the op's inputs."""
    c, _, kh, kw = L.weight.shape
    wq = L.weight.reshape(c, kh, kw).astype(np.int8)
    bias = np.zeros(c, np.float32) if L.bias is None else np.asarray(L.bias, np.float32)
    corr = (128 * wq.reshape(c, -1).astype(np.int32).sum(1)).astype(np.int32)
    return pack_lanes(wq, kh, kw), np.asarray(L.scale_in, np.float32), bias, corr


def lower(ctx, p, L, xq, pads, shape):
    """The layer on uint8 q+128 NCHW `xq` -> uint8 q+128 NCHW of ncnn shape `shape` (c, h, w),
    through the custom op (NHWC). Its output's shape is stated (a value_info): onnxruntime infers
    none for a custom op, and without one its layout transformer leaves the next convs NCHW. Where
    `xq` is the uint8 Clip of the conv before (int8_fast.qlinear_conv: a ReLU6 and ncnn's 127
    bounds), the kernel clamps the bytes it reads instead: one node and one pass over the blob less
    (onnxruntime drops the Clip when nothing else reads it)."""
    lo, hi, bounded = activation_bounds(L)
    xq, x_lo, x_hi = ctx.uint8_clips.get(xq, (xq, 0, 255))
    names = ("_dwv", "_dwscale", "_dwbias", "_dwcorr")
    inputs = [ctx.op("Transpose", [xq], perm=[0, 2, 3, 1])]
    inputs += [ctx.const(a, L.name + n) for a, n in zip(constants(L), names)]
    y = ctx.op(OP, inputs, domain=DOMAIN, kernel_shape=list(L.weight.shape[2:]), strides=[p.stride_h, p.stride_w],
               pads=list(pads), act_lo=np.float32(lo), act_hi=np.float32(hi), s_top=np.float32(L.s_top),
               bounded=bounded, x_lo=x_lo, x_hi=x_hi, tasks=tasks(ctx))
    ctx.value_infos.append((y, UINT8, ["N", shape[1], shape[2], shape[0]]))
    return ctx.op("Transpose", [y], perm=[0, 3, 1, 2])


def run(L, x, stride, pads, x_clamp=(0, 255), parts=1):
    """The kernel on NHWC uint8 q+128 `x` (n, h, w, c), its bytes clamped to `x_clamp`, each sample
    in `parts` tasks run in turn, called directly (tests): (n, oh, ow, c)."""
    from ncnnlike.layers import _dw_vnni
    n, h, w, c = x.shape
    kh, kw = L.weight.shape[2:]
    oh, ow = (h + pads[0] + pads[2] - kh) // stride[0] + 1, (w + pads[1] + pads[3] - kw) // stride[1] + 1
    y = np.empty((n, oh, ow, c), np.uint8)
    lo, hi, bounded = activation_bounds(L)
    _dw_vnni.run(np.ascontiguousarray(x, np.uint8), *constants(L), y,
                 (n, h, w, c, kh, kw, stride[0], stride[1], pads[0], pads[1], oh, ow, bounded, *x_clamp, parts),
                 (lo, hi, float(L.s_top)))
    return y

