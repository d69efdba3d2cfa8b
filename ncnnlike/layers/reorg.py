"""Reorg (reorg.cpp): space to depth on a 3-D blob by 0=stride s (YOLOv2's passthrough layer).

Output (c*s*s, h/s, w/s), sizes rounded down (ncnn drops the rows and columns left over, and so
do we); output pixel (i, j) of the channel for input channel q and offset (sh, sw) reads input
(q, i*s + sh, j*s + sw), that channel being
  mode 0: q*s*s + sh*s + sw        (channel order c-sh-sw)
  mode 1: (sh*s + sw)*c + q        (channel order sh-sw-c)
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks
from ncnnlike.layers.space_depth import bottom_chw, fail, rearrange

TYPE = "Reorg"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "stride", 1),
    Param(1, "mode", 0),
)

# numpy transpose of the view (N, c, outh, sh, outw, sw) to the output channel order
PERM = {
    0: [0, 1, 3, 5, 2, 4],    # (N, c, sh, sw, outh, outw)
    1: [0, 3, 5, 1, 2, 4],    # (N, sh, sw, c, outh, outw)
}


def lower(layer, p, ctx):
    c, h, w = bottom_chw(layer, p, ctx, PERM)
    s = p.stride
    if s < 1 or h < s or w < s:
        raise fail(layer, "stride %d does not fit a %dx%d blob" % (s, h, w))
    outh, outw = h // s, w // s
    x = ctx.bottom(layer)
    if (outh * s, outw * s) != (h, w):
        x = ctx.op("Slice", [x, ctx.ints([0, 0]), ctx.ints([outh * s, outw * s]), ctx.ints([2, 3])])
    rearrange(ctx, layer, x, [0, c, outh, s, outw, s], PERM[p.mode], (c * s * s, outh, outw))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 10, "stride")
    checks.flag(p, "mode")
