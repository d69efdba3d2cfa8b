"""DeepCopy (deepcopy.cpp): the top is a copy of the bottom (ncnn clones the Mat); no params.

Tensors here are values, never shared memory, so the top is the bottom tensor itself, int8
binding included.
"""
TYPE = "DeepCopy"

PARAMS = ()


def lower(layer, p, ctx):
    tensor, quant = ctx.bottom_q(layer)
    ctx.top(layer, 0, tensor, ctx.in_shape(layer), quant)


BLOBS = (1, 1)
