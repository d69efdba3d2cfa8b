"""TanH (spec 3, tanh.cpp): y = tanh(x).

pip ncnn's x86 TanH is 2*sigmoid(2x) - 1 through exp_ps (tanh_avx512, with a masked 16-lane tail on
AVX-512): a NaN input gives -1 in every lane, reproduced as UnaryOp TANH does (unaryop.py). On an
AVX2-only CPU the last size % 4 elements of a channel go through libm's tanhf (NaN stays NaN).
"""
from ncnnlike.layers.unaryop import TANH, emit

TYPE = "TanH"

PARAMS = ()


def lower(layer, p, ctx):
    ctx.top(layer, 0, emit(ctx, TANH, ctx.bottom(layer)), ctx.in_shape(layer))


BLOBS = (1, 1)
