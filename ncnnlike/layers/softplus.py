"""Softplus (softplus.cpp): y = log(exp(x) + 1) as written; no params.

ncnn does not use the stable form, so x > ~88.7 gives inf, and x < ~-17 gives exactly 0; this
lowering computes the same expression (ONNX Softplus would return x and exp(x) there).
"""
import numpy as np

TYPE = "Softplus"

PARAMS = ()


def lower(layer, p, ctx):
    y = ctx.op("Log", [ctx.op("Add", [ctx.op("Exp", [ctx.bottom(layer)]), ctx.const(np.float32(1))])])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)
