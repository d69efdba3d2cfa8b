"""Split (spec 3): every top is the bottom blob itself (ncnn shares the Mat), int8 binding included."""
TYPE = "Split"

PARAMS = ()


def lower(layer, p, ctx):
    """Bind each top to the bottom tensor; a requantized (int8) bottom stays int8 (spec 6.5)."""
    tensor, quant = ctx.bottom_q(layer)
    shape = ctx.in_shape(layer)
    for i in range(len(layer.tops)):
        ctx.top(layer, i, tensor, shape, quant)


BLOBS = (1, (1, None))
