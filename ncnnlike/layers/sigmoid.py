"""Sigmoid (spec 3, sigmoid.cpp): 1/(1+exp(-x)) after clamping x to +-88.3762626647949, as ncnn.

A NaN input gives 4.15602844e-39 as pip ncnn's x86 code (exp_ps reads NaN as +88.38; measured on
AVX-512, every lane); see activation.sigmoid.
"""
from ncnnlike.layers.activation import lower_fused

TYPE = "Sigmoid"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, lower_fused(ctx, ctx.bottom(layer), 4, []), ctx.in_shape(layer))


BLOBS = (1, 1)
