"""Noop (spec 3): no params; each top is the matching bottom, unchanged (ncnn runs it in place)."""
from ncnnlike.errors import NcnnlikeError

TYPE = "Noop"

PARAMS = ()


def lower(layer, p, ctx):
    """Bind top i to bottom i, int8 binding included."""
    if len(layer.tops) > len(layer.bottoms):
        raise NcnnlikeError("layer %s (Noop): %d tops but only %d bottoms"
                            % (layer.name, len(layer.tops), len(layer.bottoms)))
    for i in range(len(layer.tops)):
        tensor, quant = ctx.bottom_q(layer, i)
        ctx.top(layer, i, tensor, ctx.in_shape(layer, i), quant)


BLOBS = ((0, None), (0, None))   # ncnn loads a Noop with any blobs (ncnnoptimize removes it); layers/checks.py
