"""PixelShuffle (pixelshuffle.cpp): depth to space on a 3-D blob by 0=upscale_factor r.

Output (c / (r*r), h*r, w*r); output pixel (p, i*r + sh, j*r + sw) reads input channel
  mode 0: p*r*r + sh*r + sw        (PyTorch's pixel_shuffle, channel order outc-sh-sw)
  mode 1: (sh*r + sw)*outc + p     (TensorFlow's depth_to_space, channel order sh-sw-outc)
outc is c / (r*r) rounded down: ncnn ignores the channels left over, and so do we.
"""
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks
from ncnnlike.layers.space_depth import bottom_chw, fail, rearrange

TYPE = "PixelShuffle"

# ModelWriter order: 0 1
PARAMS = (
    Param(0, "upscale_factor", 1),
    Param(1, "mode", 0),
)

# numpy transpose of the channel-split view to (N, outc, h, sh, w, sw)
VIEW_PERM = {
    0: ([0, 1, 4, 2, 5, 3], "outc r r"),    # view (N, outc, sh, sw, h, w)
    1: ([0, 3, 4, 1, 5, 2], "r r outc"),    # view (N, sh, sw, outc, h, w)
}


def lower(layer, p, ctx):
    c, h, w = bottom_chw(layer, p, ctx, VIEW_PERM)
    r = p.upscale_factor
    outc = c // (r * r) if r >= 1 else 0
    if outc < 1:
        raise fail(layer, "%d channels cannot make upscale_factor=%d" % (c, r))
    x = ctx.bottom(layer)
    if outc * r * r != c:
        x = ctx.op("Slice", [x, ctx.ints([0]), ctx.ints([outc * r * r]), ctx.ints([1])])
    perm, order = VIEW_PERM[p.mode]
    view = [0, outc, r, r, h, w] if order == "outc r r" else [0, r, r, outc, h, w]
    rearrange(ctx, layer, x, view, perm, (outc, h * r, w * r))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 1 << 10, "upscale_factor")
    checks.flag(p, "mode")
