"""Embed (spec 3 Embed, src/layer/embed.cpp): look up one row of weight_data per word index.

y[q] = weight_data[clamp(index[q], 0, input_dim - 1)] (+ bias_data), a (words, num_output) blob
with words = the bottom's w. ncnn reads the bottom's memory as int32 and takes its first w values
(embed.cpp forward: `((const int*)bottom_blob)[q]`), so with a 2-D or higher bottom only the first
row of the first channel is looked up, and the output is always 2-D.

Word indices: pip ncnn wants an int32 Mat (ncnn.Mat(np.int32 array)); a float32 Mat is read by its
bits (1.0 is 1065353216, clamped to input_dim - 1). Our runtime casts every input to float32 by
value, so here the bottom holds the indices as float values: index = trunc(value), then clamped to
[0, input_dim - 1] like ncnn (NaN becomes 0). This equals pip ncnn fed the same indices as int32.

int8 (18=int8_scale_term, model2int8 writes 2): weight_data is stored int8 with one scale, and ncnn
computes em * (1/scale) + bias in float32 (embed_int8). ncnn's Embed never looks at
use_int8_inference: it runs this dequantization whenever int8_scale_term is set. We do the same
with net.opt.use_int8_inference on or off, so both modes equal pip ncnn exactly.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param, WeightSpec
from ncnnlike.layers import checks

TYPE = "Embed"

# ModelWriter order: 0 1 2 3 18
PARAMS = (
    Param(0, "num_output", 0),
    Param(1, "input_dim", 0),
    Param(2, "bias_term", 0),
    Param(3, "weight_data_size", 0),
    Param(18, "int8_scale_term", 0),
)


def weights(p):
    """weight_data (tagged), bias_data raw x num_output, then one raw int8 scale (embed.cpp load_model)."""
    specs = [WeightSpec("weight_data", p.weight_data_size, True)]
    if p.bias_term:
        specs.append(WeightSpec("bias_data", p.num_output, False))
    if p.int8_scale_term:
        specs.append(WeightSpec("weight_data_int8_scale", 1, False))
    return specs


def table(layer, p, where):
    """The (input_dim, num_output) float32 rows to look up: weights as stored, or ncnn's dequantized int8."""
    if p.num_output <= 0 or p.input_dim <= 0:
        raise NcnnlikeError("%s: num_output (0=) and input_dim (1=) must be positive, got %d and %d"
                            % (where, p.num_output, p.input_dim))
    raw = np.asarray(layer.weights.get("weight_data", np.zeros(0, np.float32)))
    if raw.size < p.num_output * p.input_dim:
        raise NcnnlikeError("%s: weight_data has %d values, fewer than input_dim*num_output = %d"
                            % (where, raw.size, p.num_output * p.input_dim))
    stored_int8 = raw.dtype == np.int8
    if bool(p.int8_scale_term) != stored_int8:
        raise NcnnlikeError("%s: int8_scale_term (18=) is %d but weight_data is stored as %s (ncnn would read "
                            "its bytes as the other type)" % (where, p.int8_scale_term, raw.dtype))
    rows = raw.reshape(-1)[:p.num_output * p.input_dim].reshape(p.input_dim, p.num_output)
    if not stored_int8:
        return rows.astype(np.float32)
    descale = np.float32(1) / np.float32(layer.weight("weight_data_int8_scale")[0])
    return rows.astype(np.float32) * descale


def word_indices(ctx, x, shape, input_dim):
    """int64 (N, words) indices from the first w values of the bottom: trunc, clamped to [0, input_dim-1]."""
    if len(shape) > 1:
        starts = [0] * (len(shape) - 1)
        x = ctx.op("Slice", [x, ctx.ints(starts), ctx.ints([1] * len(starts)), ctx.ints(list(range(1, len(shape))))])
        x = ctx.op("Reshape", [x, ctx.ints([0, shape[-1]])])
    top = np.float32(input_dim - 1)
    x = ctx.op("Clip", [x, ctx.const(np.float32(0)), ctx.const(top)])
    index = ctx.op("Cast", [x], to=7)   # INT64, truncating toward zero
    return ctx.op("Clip", [index, ctx.const(np.int64(0)), ctx.const(np.int64(input_dim - 1))])


def lower(layer, p, ctx):
    where = "layer %s (Embed)" % layer.name
    rows = table(layer, p, where)
    shape = ctx.in_shape(layer)
    index = word_indices(ctx, ctx.bottom(layer), shape, p.input_dim)
    y = ctx.op("Gather", [ctx.const(rows, layer.name + "_weight"), index], axis=0)
    if p.bias_term:
        y = ctx.op("Add", [y, ctx.const(layer.weight("bias_data"), layer.name + "_bias")])
    ctx.top(layer, 0, y, (shape[-1], p.num_output))


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.positive(p, "num_output", "input_dim")
    if p.weight_data_size != p.num_output * p.input_dim:
        raise checks.Invalid("weight_data_size=%d: must be num_output x input_dim = %d (ncnn reads a row per input word)" % (p.weight_data_size, p.num_output * p.input_dim))
    checks.at_least(p, 0, "int8_scale_term")
