"""Cast (cast.cpp, x86/cast_x86.cpp, x86/cast_fp16.h, x86/cast_bf16.h): change a blob's element type.

Types (0=type_from, 1=type_to): 1 float32, 2 float16, 3 int8, 4 bfloat16. Blobs here are float32
tensors, so a Cast to fp16 / bf16 gives the values the 16-bit storage holds (as float32), and a
Cast back to fp32 is exact (an identity). What pip ncnn's x86 kernels do, measured on this CPU
(AVX-512 with BF16 and F16C), per packed channel of `size` = w*h*d*elempack values in memory order:
- fp32 -> fp16: the first size//4*4 values by F16C (round to nearest even, fp16 subnormals kept,
  overflow to inf); the rest by the scalar float32_to_float16 (round half away from zero, inputs
  below 2**-14 flushed to +-0);
- fp32 -> bf16: the first size//8*8 values by vcvtneps2bf16 (round to nearest even, fp32
  denormal inputs flushed to +-0); the rest by the scalar float32_to_bfloat16 (round half away from
  zero, denormals kept). (The checked-out mat.h truncates there; pip ncnn's build rounds.)
Which values are "the rest" depends on the packed layout (packing.py: elempack 16/8/4 by the
count of channels, rows of a 2-D blob, values of a 1-D one); we assume use_packing_layout on, the
pip default. The emulation is exact: onnxruntime's Cast rounds to nearest even, and a tie that it
rounded towards zero is moved one step away.

Extracting: pip ncnn returns a fp16 blob as a numpy float16 array (equal to ours); a bf16 blob
comes back with its bits read as IEEE half (garbage) unless opt.use_bf16_storage is on, when it
is converted to fp32: ours gives the bf16 values, as that. int8 -> fp32 gives the int8 values; an
int8 blob here is one bound as int8 (after Quantize...). Pairs ncnn's forward has no branch for
(fp32 -> int8, fp16 <-> bf16, type 0 to another...) leave its output uninitialized, and int8 -> fp32
on a float blob reads float bytes as int8: refused. Casting from fp16 / bf16 cannot check that the
bottom really holds that type (ncnn would read fp32 bytes as 16-bit values): it is an identity.
"""
import numpy as np
import onnx

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers.packing import auto_elempack
from ncnnlike.layers import checks

TYPE = "Cast"

FP32, FP16, INT8, BF16 = 1, 2, 3, 4

# ModelWriter: no Cast branch, schema order: 0 1
PARAMS = (
    Param(0, "type_from", 0),
    Param(1, "type_to", 0),
)

# 16-bit type -> (onnx type, values per SIMD step, the path that flushes small inputs, below what)
HALF = {
    FP16: (onnx.TensorProto.FLOAT16, 4, "scalar", 2.0 ** -14),
    BF16: (onnx.TensorProto.BFLOAT16, 8, "simd", 2.0 ** -126),
}


def scalar_tail(shape, step):
    """Bool array of `shape`: True where ncnn's x86 Cast converts the value in its scalar tail loop
    (memory offset past size // step * step in its packed channel), False for the SIMD loop."""
    elempack = auto_elempack(shape[0], False)
    index = np.indices(shape)
    lane, block = index[0] % elempack, index[0] // elempack
    rest = np.ravel_multi_index(tuple(index[1:]), shape[1:]) if len(shape) > 1 else np.zeros(shape, int)
    inner = int(np.prod(shape[1:]))
    if len(shape) <= 2:                       # one channel: the whole Mat
        offset, size = (block * inner + rest) * elempack + lane, int(np.prod(shape))
    else:                                     # one packed channel per block
        offset, size = rest * elempack + lane, inner * elempack
    return offset >= size // step * step


def rounded(ctx, x, to):
    """x rounded to the 16-bit type `to` (nearest even) and back to float32."""
    return ctx.op("Cast", [ctx.op("Cast", [x], to=to)], to=onnx.TensorProto.FLOAT)


def half_away(ctx, x, to):
    """x rounded to nearest, ties away from zero: a tie that nearest-even rounded towards zero
    (x - r has the sign of x and r + 2(x - r) is representable) moves to r + 2(x - r)."""
    r = rounded(ctx, x, to)
    d = ctx.op("Sub", [x, r])
    up = ctx.op("Add", [r, ctx.op("Add", [d, d])])
    zero = ctx.const(np.float32(0))
    outward = ctx.op("Equal", [ctx.op("Greater", [x, zero]), ctx.op("Greater", [d, zero])])
    moved = ctx.op("Not", [ctx.op("Equal", [d, zero])])
    tie = ctx.op("And", [ctx.op("And", [outward, moved]), ctx.op("Equal", [rounded(ctx, up, to), up])])
    return ctx.op("Where", [tie, up, r])


def flush_below(ctx, x, y, limit):
    """y, with +-0 (the sign of x) where |x| < limit."""
    small = ctx.op("Less", [ctx.op("Abs", [x]), ctx.const(np.float32(limit))])
    return ctx.op("Where", [small, ctx.op("Mul", [x, ctx.const(np.float32(0))]), y])


def to_half(ctx, x, shape, type_to):
    """fp32 -> fp16 / bf16 values as pip ncnn's x86 Cast stores them (see the module docstring)."""
    to, step, flushed, limit = HALF[type_to]
    tail = scalar_tail(shape, step)
    paths = {}
    if not tail.all():
        paths["simd"] = rounded(ctx, x, to)
    if tail.any():
        paths["scalar"] = half_away(ctx, x, to)
    if flushed in paths:
        paths[flushed] = flush_below(ctx, x, paths[flushed], limit)
    if len(paths) == 1:
        return next(iter(paths.values()))
    return ctx.op("Where", [ctx.const(tail, "cast_scalar_tail"), paths["scalar"], paths["simd"]])


def lower(layer, p, ctx):
    where = "layer %s (Cast)" % layer.name
    shape = ctx.in_shape(layer)
    tensor, quant = ctx.bottom_q(layer)
    pair = (p.type_from, p.type_to)
    if p.type_from == p.type_to:
        ctx.top(layer, 0, tensor, shape, quant)
    elif pair == (INT8, FP32) and quant is not None:
        ctx.top(layer, 0, ctx.bottom(layer), shape)
    elif pair in ((FP16, FP32), (BF16, FP32)) and quant is None:
        ctx.top(layer, 0, tensor, shape)
    elif pair in ((FP32, FP16), (FP32, BF16)) and quant is None:
        ctx.top(layer, 0, to_half(ctx, tensor, shape, p.type_to), shape)
    else:
        raise NcnnlikeError("%s: cannot cast type %d to %d (1 fp32, 2 fp16, 3 int8, 4 bf16) on a%s blob: "
                            "ncnn has no such conversion or would misread the data"
                            % (where, p.type_from, p.type_to, "n int8" if quant is not None else " float"))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.between(p, 0, 4, "type_from", "type_to")
