"""Tile (tile.cpp): repeat a blob along its axes, by 0=axis and 1=tiles, or by a 2=repeats array.

  axis/tiles  repeat one numpy-order axis of the blob (1-D: always w; 2-D: 0=h 1=w;
              3-D: 0=c 1=h 2=w; 4-D: 0=c 1=d 2=h 3=w) `tiles` times; other axes once
  repeats     (-23302=..., numpy style) 1 value: w; 2: h, w; 3: d, h, w for a 4-D blob, else c, h, w;
              4: c, d, h, w. The output has max(dims, len(repeats)) dims.
A repeat copies the whole axis again after itself (numpy.tile / ONNX Tile). Where the output gets
more dims than the blob, ncnn keeps the blob's own w, h, d, c and the new axes start at size 1:
a 3-D blob (c, h, w) tiled by 4 repeats (rc, rd, rh, rw) gives (c*rc, rd, h*rh, w*rw), where
numpy would give (rc, c*rd, h*rh, w*rw). pip ncnn refuses at load time an axis outside 0..3,
tiles or repeats below 1, and more than 4 repeats (measured); so do we.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.reshape import ncnn_dims, numpy_shape
from ncnnlike.layers import checks

TYPE = "Tile"

# ModelWriter order: 0 1 -23302
PARAMS = (
    Param(0, "axis", 0),
    Param(1, "tiles", 1),
    Param(2, "repeats", []),
)

AXIS_NAMES = {1: "w", 2: "hw", 3: "chw", 4: "cdhw"}
REPEAT_NAMES = {1: "w", 2: "hw", 4: "cdhw"}


def repeats_by_name(p, dims):
    """{'w': rw, 'h': rh, 'd': rd, 'c': rc} as Tile::forward sets them."""
    reps = dict.fromkeys("whdc", 1)
    if not p.repeats:
        names = AXIS_NAMES[dims]
        axis = 0 if dims == 1 else p.axis
        if 0 <= axis < dims:
            reps[names[axis]] = p.tiles
        return reps
    if len(p.repeats) == 3:
        names = "dhw" if dims == 4 else "chw"
    else:
        names = REPEAT_NAMES.get(len(p.repeats), "")
    reps.update(zip(names, p.repeats))
    return reps


def lower(layer, p, ctx):
    where = "layer %s (Tile)" % layer.name
    shape = ctx.in_shape(layer)
    if len(p.repeats) > 4 or not 0 <= p.axis <= 3 or min(p.repeats + [p.tiles]) < 1:
        raise NcnnlikeError("%s: ncnn takes axis 0..3, tiles >= 1 and at most 4 repeats >= 1, got "
                            "axis=%d tiles=%d repeats=%s" % (where, p.axis, p.tiles, p.repeats))
    reps = repeats_by_name(p, len(shape))
    x = ctx.bottom(layer)
    if set(reps.values()) == {1} and len(p.repeats) in (0, len(shape)):
        ctx.top(layer, 0, x, shape)
        return
    outdims = max(len(shape), len(p.repeats))
    w, h, d, c = ncnn_dims(shape)
    wide = numpy_shape(outdims, w, h, d, c)
    if wide != tuple(shape):
        x = ctx.op("Reshape", [x, ctx.ints([0] + list(wide))])
    times = numpy_shape(outdims, reps["w"], reps["h"], reps["d"], reps["c"])
    y = ctx.op("Tile", [x, ctx.ints([1] + list(times))])
    ctx.top(layer, 0, y, tuple(n * t for n, t in zip(wide, times)))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, -4, 3, "axis")
    checks.between(p, 1, 1 << 16, "tiles")
    for v in p.repeats or []:
        if not 1 <= v <= 1 << 16:
            raise checks.Invalid("repeats=%s: each repeat must be 1 to 65536" % (p.repeats,))
