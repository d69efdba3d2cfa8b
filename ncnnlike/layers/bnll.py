"""BNLL (bnll.cpp): y = x + log(1 + exp(-x)) for x > 0, else log(1 + exp(x)); no params.

Both branches are max(x, 0) + log(1 + exp(-|x|)), which never overflows exp.
"""
import numpy as np

TYPE = "BNLL"

PARAMS = ()


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    tail = ctx.op("Exp", [ctx.op("Neg", [ctx.op("Abs", [x])])])
    y = ctx.op("Add", [ctx.op("Relu", [x]), ctx.op("Log", [ctx.op("Add", [tail, ctx.const(np.float32(1))])])])
    ctx.top(layer, 0, y, ctx.in_shape(layer))
