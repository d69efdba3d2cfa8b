"""ExpandDims (expanddims.cpp): insert size-1 axes into a 1-D, 2-D or 3-D blob at 3=axes.

axes (-23303=..., what pnnx writes) are numpy-order axes of the output blob without batch
(2-D: 0=h 1=w; 3-D: 0=c 1=h 2=w; 4-D: 0=c 1=d 2=h 3=w); negative counts from the end of the
output. ExpandDims::forward turns them into w/h/d/c flags and picks the first matching line of a
fixed table (TABLE below, in its order); for distinct in-range axes this is numpy's expand_dims.
This ncnn reads no other param (the old 0/1/2 expand_w/h/c flags are ignored). Where no line
matches (no axes, repeated or out-of-range axes, an output of more than 4 dims) the blob passes
through unchanged, as in ncnn. Data order does not change, so the lowering is a reshape.
pip ncnn refuses at load time more than 4 axes or one outside -4..3 (measured); so do we.
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers.reshape import ncnn_dims, numpy_shape
from ncnnlike.layers.squeeze import lower_reshape
from ncnnlike.layers import checks

TYPE = "ExpandDims"

# ModelWriter order: -23303
PARAMS = (
    Param(3, "axes", []),
)

AXIS_NAMES = {2: "hw", 3: "chw", 4: "cdhw"}

# output dims -> [(flags that must all be set, the ncnn reshape(w, h[, d], c) args)], first match wins
TABLE = {
    2: [("w", "1w"), ("h", "w1")],
    3: [("wh", "11w"), ("wc", "1w1"), ("hc", "w11"), ("w", "1wh"), ("h", "w1h"), ("c", "wh1")],
    4: [("whd", "111w"), ("whc", "11w1"), ("wdc", "1w11"), ("hdc", "w111"), ("wh", "11wh"), ("wc", "1wh1"),
        ("dc", "wh11"), ("wd", "1w1h"), ("hc", "w1h1"), ("hd", "w11h"), ("w", "1whc"), ("h", "w1hc"),
        ("d", "wh1c"), ("c", "whc1")],
}


def out_shape(p, shape):
    """The numpy-order blob shape ExpandDims gives a blob of `shape`."""
    outdims = len(shape) + len(p.axes)
    if outdims not in TABLE:
        return tuple(shape)
    names = AXIS_NAMES[outdims]
    flags = set()
    for axis in p.axes:
        axis = axis + outdims if axis < 0 else axis
        if 0 <= axis < outdims:
            flags.add(names[axis])
    w, h, _, c = ncnn_dims(shape)
    value = {"1": 1, "w": w, "h": h, "c": c}
    for need, args in TABLE[outdims]:
        if set(need) <= flags:
            whdc = [value[a] for a in args]
            if outdims == 3:
                whdc.insert(2, 1)
            return numpy_shape(outdims, *(whdc + [1] * (4 - len(whdc))))
    return tuple(shape)


def lower(layer, p, ctx):
    lower_reshape(layer, p, ctx, out_shape)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.axes(p, "axes", unique=False)
