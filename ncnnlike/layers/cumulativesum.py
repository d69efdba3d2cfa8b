"""CumulativeSum (cumulativesum.cpp): running sum along 0=axis (torch.cumsum), in float32.

axis is a numpy-order axis of the blob without batch (2-D: 0=h 1=w; 3-D: 0=c 1=h 2=w; 4-D: 0=c
1=d 2=h 3=w), negative counting from the end; a 1-D blob ignores it. ncnn adds in order, one
element after the other; onnxruntime's CumSum does the same. An axis out of range makes ncnn's
forward fail (-100), so it is refused here.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "CumulativeSum"

# ModelWriter order: 0
PARAMS = (
    Param(0, "axis", 0),
)


def lower(layer, p, ctx):
    shape = ctx.in_shape(layer)
    dims = len(shape)
    axis = 0 if dims == 1 else (p.axis + dims if p.axis < 0 else p.axis)
    if not 0 <= axis < dims:
        raise NcnnlikeError("layer %s (CumulativeSum): axis %d out of range for a %d-D blob"
                            % (layer.name, p.axis, dims))
    y = ctx.op("CumSum", [ctx.bottom(layer), ctx.const([axis + 1], "axis", dtype="int64")])
    ctx.top(layer, 0, y, shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
