"""float -> int8 of the fast int8 path's float bottoms on our own kernel: ncnn's x86
float2int8(x * scale) as uint8 q+128, the onnxruntime custom op ncnnlike.QuantizeInt8 of the
library layers/_dw_vnni.c (with the depthwise kernel: the same CPUs, AVX512-VNNI and VBMI).

Why: onnxruntime's QuantizeLinear rounds x / (1/scale) half to even, and ncnn's -127 floor needs a
Clip after it: two passes, and a value one step off where x*scale lies within an ulp of k + 0.5.
This op is one pass with ncnn's rounding (our sim mode's: t = x*scale clamped to [-127, 127],
then trunc(t + copysign(0.5, t))). A 4-D tensor goes through it channels-last between two
Transposes, which cancel against those of onnxruntime's NHWC kernels around it; its output's
shape is stated, as for the depthwise op (dw_vnni.lower)."""
import numpy as np

from ncnnlike.layers import dw_vnni
from ncnnlike.layers.lowering import UINT8

OP = "QuantizeInt8"


def usable(shape):
    """Whether a float tensor of ncnn shape `shape` (None: unknown) quantizes on the op here."""
    return dw_vnni.library() is not None and shape is not None and 1 <= len(shape) <= 4


def lower(ctx, x, scale, shape, channels_last=True):
    """uint8 q+128 of the float tensor `x` (ncnn shape `shape`, batch first in the tensor); a 4-D one
    channels-last unless `channels_last` is off (a network input: onnxruntime would then move the
    uint8 Pad of a stem after the transposes, where its channel pad costs 0.5 ms on Lite0)."""
    attrs = dict(domain=dw_vnni.DOMAIN, scale=np.float32(scale), tasks=dw_vnni.tasks(ctx))
    if len(shape) != 3 or not channels_last:
        y = ctx.op(OP, [x], **attrs)
        ctx.value_infos.append((y, UINT8, ["N", *shape]))
        return y
    c, h, w = shape
    y = ctx.op(OP, [ctx.op("Transpose", [x], perm=[0, 2, 3, 1])], **attrs)
    ctx.value_infos.append((y, UINT8, ["N", h, w, c]))
    return ctx.op("Transpose", [y], perm=[0, 3, 1, 2])


def usable_packed(shape, extra):
    """Whether a network input of ncnn shape `shape` quantizes straight into the channels-last
    bytes of a stem whose input channels are padded by `extra` to 4 (lower_packed)."""
    return usable(shape) and len(shape) == 3 and 1 <= shape[0] <= 3 and shape[0] + extra == 4


def lower_packed(ctx, x, scale, shape):
    """uint8 q+128 of the NCHW network input `x` (ncnn shape (c, h, w), c < 4) with zero channels
    (byte 128) up to 4, as NCHW over the op's NHWC output: onnxruntime's NHWC QLinearConv cancels
    the Transpose. One pass where quantizing, a Pad of the channels and that Transpose took three
    (Lite0's stem: 44 + 27 + 58 us)."""
    c, h, w = shape
    y = ctx.op(OP, [x], domain=dw_vnni.DOMAIN, scale=np.float32(scale), tasks=dw_vnni.tasks(ctx), pad=128)
    ctx.value_infos.append((y, UINT8, ["N", h, w, 4]))
    return ctx.op("Transpose", [y], perm=[0, 3, 1, 2])


def run(x, scale):
    """The kernel on a float32 array, called directly (tests): uint8 q+128 of x's shape."""
    from ncnnlike.layers import _dw_vnni
    x = np.ascontiguousarray(x, np.float32)
    y = np.empty(x.shape, np.uint8)
    _dw_vnni.quantize(x, float(scale), y)
    return y
