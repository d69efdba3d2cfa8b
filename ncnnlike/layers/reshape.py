"""Reshape (spec 3, reshape.cpp): new (w, h, d, c) with 0 = copy, -1 = infer, -233 = absent; shape_expr.

The data order is ncnn's row-major (c, d, h, w) order, so the lowering is a numpy-style reshape of
the blob without its batch axis. The number of output dims follows reshape.cpp's load_param: the
first absent of w, h, c, d (checked in that order of precedence) cuts the rank.
"""
import math
import re

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Reshape"

ABSENT = -233

# ModelWriter order: 0 1 11 2 6 (12/13, the batch axes, are never written)
PARAMS = (
    Param(0, "w", ABSENT),
    Param(1, "h", ABSENT),
    Param(11, "d", ABSENT),
    Param(2, "c", ABSENT),
    Param(6, "shape_expr", ""),
)


def ncnn_dims(shape):
    """ncnn's (w, h, d, c) of a numpy-order blob shape; missing dims are 1, as in ncnn::Mat."""
    shape = tuple(shape)
    if len(shape) == 1:
        return shape[0], 1, 1, 1
    if len(shape) == 2:
        return shape[1], shape[0], 1, 1
    if len(shape) == 3:
        return shape[2], shape[1], 1, shape[0]
    return shape[3], shape[2], shape[1], shape[0]


def numpy_shape(ndim, w, h, d, c):
    """The numpy-order shape of an ncnn blob with `ndim` dims."""
    return {1: (w,), 2: (h, w), 3: (c, h, w), 4: (c, d, h, w)}[ndim]


# --- shape expressions (ncnn src/expression.cpp, docs/developer-guide/expression.md) -------------

_INT_BINARY = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "max": max, "min": min}
_FLOAT_BINARY = {"/": lambda a, b: a / b, "atan2": math.atan2, "fmod": math.fmod, "pow": math.pow,
                 "logaddexp": lambda a, b: math.log(math.exp(a) + math.exp(b))}
_INT_UNARY = {"abs": abs, "neg": lambda a: -a, "square": lambda a: a * a,
              "sign": lambda a: (a > 0) - (a < 0)}
_TO_INT = {"trunc": math.trunc, "ceil": math.ceil, "floor": math.floor,
           "round": lambda a: math.floor(abs(a) + 0.5) * (1 if a >= 0 else -1)}
_FLOAT_UNARY = {"acos": math.acos, "acosh": math.acosh, "asin": math.asin, "asinh": math.asinh,
                "atan": math.atan, "atanh": math.atanh, "cos": math.cos, "cosh": math.cosh,
                "erf": math.erf, "exp": math.exp, "log": math.log, "log10": math.log10,
                "reciprocal": lambda a: 1.0 / a, "rsqrt": lambda a: 1.0 / math.sqrt(a),
                "sin": math.sin, "sinh": math.sinh, "sqrt": math.sqrt, "tan": math.tan, "tanh": math.tanh}
_BITWISE = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
            "lshift": lambda a, b: a << b, "rshift": lambda a, b: a >> b}


def _tokens(expr):
    """Split on ',', '(' and ')' as eval_list_expression does (prefix notation, no brackets kept)."""
    out, t = [], ""
    for ch in expr:
        if ch in "(),":
            if t:
                out.append(t)
            t = ""
        else:
            t += ch
    return out + ([t] if t else [])


def _apply(t, stack):
    """Apply operator token `t` to the stack; False if `t` is not an operator."""
    if t in _INT_BINARY or t == "//":
        a, b = stack.pop(), stack.pop()
        if isinstance(a, int) and isinstance(b, int):
            if t == "//":
                if b == 0:
                    raise ZeroDivisionError("expr divide by zero")
                stack.append(int(a / b))   # C integer division truncates
            else:
                stack.append(_INT_BINARY[t](a, b))
        else:
            stack.append(math.floor(a / b) * 1.0 if t == "//" else float(_INT_BINARY[t](float(a), float(b))))
    elif t in _FLOAT_BINARY:
        a, b = stack.pop(), stack.pop()
        stack.append(float(_FLOAT_BINARY[t](float(a), float(b))))
    elif t == "remainder":
        a, b = float(stack.pop()), float(stack.pop())
        r = math.fmod(a, b)
        stack.append(r + b if a * b < 0 else r)
    elif t in _BITWISE:
        a, b = stack.pop(), stack.pop()
        stack.append(_BITWISE[t](int(a), int(b)))
    elif t in _INT_UNARY:
        a = stack.pop()
        stack.append(_INT_UNARY[t](a) if isinstance(a, int) else float(_INT_UNARY[t](a)))
    elif t in _TO_INT:
        a = stack.pop()
        stack.append(a if isinstance(a, int) else int(_TO_INT[t](a)))
    elif t in _FLOAT_UNARY:
        stack.append(float(_FLOAT_UNARY[t](float(stack.pop()))))
    else:
        return False
    return True


def eval_list_expression(expr, shapes):
    """Evaluate an ncnn shape expression like "-1,*(0h,2),+(1c,2)" against bottom blob shapes
    (numpy order); returns the list of ints (floats truncated), as ncnn's eval_list_expression."""
    stack = []
    for t in reversed(_tokens(expr)):
        if len(t) == 2 and t[0].isdigit() and t[1] in "whdcn":
            index = int(t[0])
            if index >= len(shapes):
                raise NcnnlikeError("shape expression '%s': blob index %d out of bound" % (expr, index))
            if t[1] == "n":
                stack.append(1)
            else:
                stack.append(dict(zip("whdc", ncnn_dims(shapes[index])))[t[1]])
            continue
        try:
            if _apply(t, stack):
                continue
        except (IndexError, ValueError, ZeroDivisionError, OverflowError) as exc:
            raise NcnnlikeError("shape expression '%s': cannot evaluate '%s': %s" % (expr, t, exc))
        try:
            value = float(t)
        except ValueError:
            raise NcnnlikeError("shape expression '%s': malformed token '%s'" % (expr, t))
        lead = re.match(r"[+-]?\d+", t)     # ncnn: int when %d and %f read the same value
        stack.append(int(lead.group()) if lead and int(lead.group()) == value else value)
    if not stack:
        raise NcnnlikeError("shape expression '%s' is empty" % expr)
    return [int(v) for v in reversed(stack)]


# --- the layer ---------------------------------------------------------------------------------

def requested(p, shapes):
    """(ndim, [w, h, d, c]) as load_param/eval_shape_expr resolve them (before 0 / -1)."""
    if p.shape_expr:
        values = eval_list_expression(p.shape_expr, shapes)
        if not 1 <= len(values) <= 4:
            raise NcnnlikeError("shape expression '%s' gives %d dims, expected 1..4" % (p.shape_expr, len(values)))
        dims = values + [1] * (4 - len(values))
        if len(values) == 3:     # (w, h, c): d stays 1
            dims = [values[0], values[1], 1, values[2]]
        return len(values), dims
    ndim = 4
    if p.d == ABSENT:
        ndim = 3
    if p.c == ABSENT:
        ndim = 2
    if p.h == ABSENT:
        ndim = 1
    if p.w == ABSENT:
        ndim = 0
    return ndim, [p.w, p.h, p.d, p.c]


def out_shape(p, shapes, where="Reshape"):
    """The numpy-order output shape: 0 copies the bottom's same-named dim, -1 takes the rest."""
    in_shape = shapes[0]
    total = int(math.prod(in_shape))
    ndim, dims = requested(p, shapes)
    if ndim == 0:
        raise NcnnlikeError("%s: no output shape (0=w is absent)" % where)
    names = ("w", "h", "d", "c")
    used = {1: (0,), 2: (0, 1), 3: (0, 1, 3), 4: (0, 1, 2, 3)}[ndim]
    bottom = ncnn_dims(in_shape)
    dims = [bottom[i] if i in used and dims[i] == 0 else dims[i] for i in range(4)]
    known = math.prod(dims[i] for i in used if dims[i] != -1)
    for i in used:
        if dims[i] == -1:
            dims[i] = total // known if known else 0
    shape = numpy_shape(ndim, *dims)
    if any(s <= 0 for s in shape) or math.prod(shape) != total:
        raise NcnnlikeError("%s: cannot reshape %s (%d elements) to %s=%s" % (
            where, tuple(in_shape), total, ",".join(names[i] for i in used), [dims[i] for i in used]))
    return shape


def lower(layer, p, ctx):
    shapes = [ctx.shape(b) for b in layer.bottoms]
    shape = out_shape(p, shapes, "layer %s (Reshape)" % layer.name)
    if shape == tuple(shapes[0]):
        ctx.top(layer, 0, ctx.bottom(layer), shape)
        return
    y = ctx.op("Reshape", [ctx.bottom(layer), ctx.ints([0] + list(shape))])
    ctx.top(layer, 0, y, shape)



def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    for name in ("w", "h", "d", "c"):
        checks.between(p, -233, 1 << 24, name)
        if -233 < getattr(p, name) < -1:
            raise checks.Invalid("%s=%d: expected a size, 0 (keep), -1 (the rest) or absent" % (name, getattr(p, name)))
    if [p.w, p.h, p.d, p.c].count(-1) > 1:
        raise checks.Invalid("more than one -1 in w, h, d, c: ncnn can infer one size only")
    checks.blob_count(p, (1, None) if p.shape_expr else 1, 1)
