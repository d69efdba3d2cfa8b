"""Mish (spec 3, mish.cpp): y = x * tanh(ln(1 + exp(x))); ncnn's +-20 softplus shortcuts agree to fp32.

Special inputs: ours match pip ncnn's 16-lane AVX-512 code; its 8- and 4-lane code (and so an
AVX2-only CPU) gives -x * 2^-24 for x < -17 through the CPU's reciprocal estimate, and +inf or NaN
at -inf depending on the lane (activation.py): not reproduced.
"""
from ncnnlike.layers.activation import lower_fused

TYPE = "Mish"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, lower_fused(ctx, ctx.bottom(layer), 5, []), ctx.in_shape(layer))


BLOBS = (1, 1)
