"""Softmax (spec 3, softmax.cpp): exp(x - max) / sum along 0=axis (ncnn axis = numpy axis, no batch).

ncnn rejects axis != 0 without `1=fixbug0=1` ("param is too old"); ncnn's writer forces 1=1
whenever axis != 0, and since our writer omits defaults, a converter must set 1=1 itself.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Softmax"

# ModelWriter order: 0 1 (1=1 forced when axis != 0)
PARAMS = (
    Param(0, "axis", 0),
    Param(1, "fixbug0", 0),
)


def written_params(pairs):
    """ModelWriter writes 1=1 exactly when axis != 0, and drops it otherwise (it means nothing there)."""
    axis = dict(pairs).get(0, 0)
    pairs = [(pid, value) for pid, value in pairs if pid != 1]
    return pairs + [(1, 1)] if axis != 0 else pairs


def lower(layer, p, ctx):
    where = "layer %s (Softmax)" % layer.name
    if p.axis != 0 and not p.fixbug0:
        raise NcnnlikeError("%s: axis %d without 1=1 (fixbug0); ncnn rejects this param as too old" % (where, p.axis))
    shape = ctx.in_shape(layer)
    axis = p.axis + len(shape) if p.axis < 0 else p.axis
    if not 0 <= axis < len(shape):
        raise NcnnlikeError("%s: axis %d out of range for shape %s" % (where, p.axis, shape))
    ctx.top(layer, 0, ctx.op("Softmax", [ctx.bottom(layer)], axis=axis + 1), shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
    checks.flag(p, "fixbug0")
    if p.axis != 0 and not p.fixbug0:
        raise checks.Invalid("axis=%d without 1=1 (fixbug0): ncnn's load_param refuses it as too old" % p.axis)
