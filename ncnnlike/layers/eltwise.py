"""Eltwise (spec 3, eltwise.cpp): PROD / SUM / MAX of N same-shape blobs; SUM takes -23301=coeffs."""
import numpy as np

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import Param
from ncnnlike.layers import checks

TYPE = "Eltwise"

PROD, SUM, MAX = 0, 1, 2

# ModelWriter order: 0 -23301
PARAMS = (
    Param(0, "op_type", 0),
    Param(1, "coeffs", []),
)


def lower(layer, p, ctx):
    where = "layer %s (Eltwise)" % layer.name
    n = len(layer.bottoms)
    shapes = [ctx.in_shape(layer, i) for i in range(n)]
    if n < 2 or any(s != shapes[0] for s in shapes):
        raise NcnnlikeError("%s: needs 2 or more bottoms of one shape, got %s" % (where, shapes))
    if p.op_type not in (PROD, SUM, MAX):
        raise NcnnlikeError("%s: unknown op_type %d (0 PROD, 1 SUM, 2 MAX)" % (where, p.op_type))
    xs = [ctx.bottom(layer, i) for i in range(n)]
    if p.op_type == SUM and p.coeffs:
        if len(p.coeffs) < n:
            raise NcnnlikeError("%s: %d coeffs for %d bottoms" % (where, len(p.coeffs), n))
        xs = [ctx.op("Mul", [x, ctx.const(np.float32(c))]) for x, c in zip(xs, p.coeffs)]
    op = {PROD: "Mul", SUM: "Add", MAX: "Max"}[p.op_type]
    y = xs[0]
    for x in xs[1:]:   # left to right, the order ncnn accumulates in
        y = ctx.op(op, [y, x])
    if op == "Add" and n == 2 and not p.coeffs:
        ctx.same_shape_adds.add(y)       # one Add node, a fused op may take it in (layers/pw_fuse.py)
    ctx.top(layer, 0, y, shapes[0])


BLOBS = ((2, None), 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.one_of(p, "op_type", (0, 1, 2), "0 prod, 1 sum, 2 max")
    checks.finite(p, 'coeffs')
