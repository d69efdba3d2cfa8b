"""Packing (packing.cpp, x86/packing_x86.cpp): change a blob's elempack to 0=out_elempack.

elempack is a memory layout: ncnn interleaves `elempack` channels (rows of a 2-D blob, values of a
1-D one) so SIMD code reads them together. Blobs here are plain dense tensors, so for values and
shape a Packing layer is an identity. Measured in pip ncnn (x86, AVX-512), as seen through extract:
- use_packing_layout on (the default): extract converts back to elempack 1, so the blob is the
  bottom unchanged: identity, whatever out_elempack, which is what we give;
- 1=use_padding with a count (w of 1-D, h of 2-D, c of 3-D/4-D) that out_elempack does not divide,
  and the bottom not already packed by out_elempack: ncnn pads the count up with uninitialized
  values (6 values become 8, the last 2 garbage); refused here;
- use_packing_layout off: the extracted Mat stays packed and pip ncnn's numpy conversion of it
  crashes the process; the layout option does not reach our lowering, which always gives the
  identity.
2=cast_type_from / 3=cast_type_to are read by ncnn but not used by its forward.
"""
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Packing"

# ModelWriter: no Packing branch, schema order: 0 1 2 3
PARAMS = (
    Param(0, "out_elempack", 1),
    Param(1, "use_padding", 0),
    Param(2, "cast_type_from", 0),
    Param(3, "cast_type_to", 0),
)


def auto_elempack(count, int8):
    """The elempack pip ncnn's convert_layout gives a packing-aware layer's bottom on AVX-512."""
    for pack in ((8,) if int8 else (16, 8, 4)):
        if count % pack == 0:
            return pack
    return 1


def lower(layer, p, ctx):
    where = "layer %s (Packing)" % layer.name
    if p.out_elempack < 1:
        raise NcnnlikeError("%s: out_elempack %d must be >= 1" % (where, p.out_elempack))
    shape = ctx.in_shape(layer)
    tensor, quant = ctx.bottom_q(layer)
    count = shape[0]
    packed = auto_elempack(count, quant is not None)
    if p.use_padding and packed != p.out_elempack and count % p.out_elempack:
        raise NcnnlikeError("%s: use_padding pads %d to a multiple of %d with uninitialized values in ncnn"
                            % (where, count, p.out_elempack))
    ctx.top(layer, 0, tensor, shape, quant)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 1, 64, "out_elempack")
    checks.flag(p, "use_padding")
    checks.between(p, 0, 4, "cast_type_from", "cast_type_to")
