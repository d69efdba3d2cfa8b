"""SELU (selu.cpp): x < 0 -> (exp(x) - 1) * alpha*lambda, else x * lambda.

0=alpha defaults to 1.67326324 and 1=lambda to 1.050700987 (PyTorch's constants); ncnn multiplies
alpha*lambda once in float, as here.
"""
import numpy as np

from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "SELU"

# no ModelWriter entry in ncnn; the order of selu.cpp's load_param
PARAMS = (
    Param(0, "alpha", 1.67326324),
    Param(1, "lambda_", 1.050700987),
)


def lower(layer, p, ctx):
    x = ctx.bottom(layer)
    alpha_lambda = np.float32(p.alpha) * np.float32(p.lambda_)
    neg = ctx.op("Mul", [ctx.op("Sub", [ctx.op("Exp", [x]), ctx.const(np.float32(1))]), ctx.const(alpha_lambda)])
    pos = ctx.op("Mul", [x, ctx.const(np.float32(p.lambda_))])
    y = ctx.op("Where", [ctx.op("Less", [x, ctx.const(np.float32(0))]), neg, pos])
    ctx.top(layer, 0, y, ctx.in_shape(layer))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.finite(p, 'alpha', 'lambda_')
