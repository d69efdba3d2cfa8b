"""Swish (spec 3, swish.cpp): y = x / (1 + exp(-x)), i.e. x * sigmoid(x) (no clamp in ncnn's formula).

Where pip ncnn's x86 code (swish_avx512 / swish_avx / swish_sse, then scalar C for a row's last
size % 4 elements) answers differently in different lanes, ours is the answer of its 8-lane,
4-lane and scalar code: for x < -88.38 its 16-lane AVX-512 code computes x * 1/(1 + exp_ps(88.38))
= x * 4.156e-39 (-1.25 at -3e38, -inf at -inf) where the others and ours give -0 (NaN at -inf).
"""
TYPE = "Swish"

PARAMS = ()


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    ctx.top(layer, 0, ctx.op("Mul", [x, ctx.op("Sigmoid", [x])]), ctx.in_shape(layer))


BLOBS = (1, 1)
