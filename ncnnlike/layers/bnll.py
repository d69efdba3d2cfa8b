"""BNLL (bnll.cpp): y = x + log(1 + exp(-x)) for x > 0, else log(1 + exp(x)); no params.

Both branches are max(x, 0) + log(1 + exp(-|x|)), which never overflows exp. pip ncnn's x86 code
agrees on special inputs (0, +-inf, huge, denormal; measured on AVX-512) except NaN, which gives
88.3762589 (exp_ps reads NaN as 88.38) or NaN depending on the lane: ours NaN.
"""
import numpy as np

TYPE = "BNLL"

PARAMS = ()


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    tail = ctx.op("Exp", [ctx.op("Neg", [ctx.op("Abs", [x])])])
    y = ctx.op("Add", [ctx.op("Relu", [x]), ctx.op("Log", [ctx.op("Add", [tail, ctx.const(np.float32(1))])])])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)
