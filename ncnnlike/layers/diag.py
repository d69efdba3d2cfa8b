"""Diag (diag.cpp): numpy.diag of a 1-D or 2-D blob at 0=diagonal k.

  1-D (n,)    -> 2-D (n+|k|, n+|k|), zeros except the diagonal k holding the blob
  2-D (h, w)  -> 1-D, the diagonal k (k > 0 above the main diagonal), as long as numpy makes it
Both are gathers of fixed positions, so the result is exact. An empty diagonal (ncnn returns an
empty blob) and 3-D / 4-D blobs (ncnn makes no top at all) are refused.
"""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param

TYPE = "Diag"

# ModelWriter order: 0
PARAMS = (
    Param(0, "diagonal", 0),
)


def vector_to_matrix(ctx, x, n, k):
    """(N, n) -> (N, m, m), m = n + |k|: x[i] at (i - min(k, 0), i + max(k, 0)), zeros elsewhere."""
    m = n + abs(k)
    rows, cols = np.indices((m, m))
    source = cols - max(k, 0)
    on_diag = (rows + min(k, 0) == source) & (source >= 0) & (source < n)
    gathered = ctx.op("Gather", [x, ctx.ints(np.where(on_diag, source, 0))], axis=1)
    y = ctx.op("Where", [ctx.const(on_diag, "diag_mask"), gathered, ctx.const(np.float32(0))])
    return y, (m, m)


def matrix_to_vector(ctx, x, h, w, k):
    """(N, h, w) -> (N, len): the k-th diagonal, or None when it is empty."""
    i = np.arange(min(h, w))
    r, c = i - min(k, 0), i + max(k, 0)
    keep = (r < h) & (c < w)
    if not keep.any():
        return None, (0,)
    flat = (r[keep] * w + c[keep]).astype(np.int64)
    y = ctx.op("Gather", [ctx.op("Reshape", [x, ctx.ints([0, h * w])]), ctx.ints(flat)], axis=1)
    return y, (len(flat),)


def lower(layer, p, ctx):
    where = "layer %s (Diag)" % layer.name
    shape = ctx.in_shape(layer)
    x = ctx.bottom(layer)
    if len(shape) == 1:
        y, out = vector_to_matrix(ctx, x, shape[0], p.diagonal)
    elif len(shape) == 2:
        y, out = matrix_to_vector(ctx, x, shape[0], shape[1], p.diagonal)
        if y is None:
            raise NcnnlikeError("%s: diagonal %d of a %dx%d blob is empty" % (where, p.diagonal, *shape))
    else:
        raise NcnnlikeError("%s: expects a 1-D or 2-D blob, got shape %s" % (where, shape))
    ctx.top(layer, 0, y, out)


BLOBS = (1, 1)
