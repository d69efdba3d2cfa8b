"""Pooling (spec 3, pooling.cpp, x86/pooling_x86.cpp): max/avg over (h, w) of a 3-D (c, h, w) blob
(a 2-D blob pools as one channel); global (a 1-D blob of c values), adaptive (out_w/out_h, -233
keeps that size, both equal passes the bottom through), the four pad modes (0 full with caffe's
tail pad, 1 valid, 2 SAME_UPPER, 3 SAME_LOWER) and avgpool_count_include_pad. Lowering, geometry
and what is refused (negative SAME borders ncnn cannot crop in bounds, packed blobs ncnn's x86
kernel gets wrong): pool_nd.py, nd_geometry.py, shared with Pooling1D / Pooling3D."""
from ncnnlike.layers import pool_nd
from ncnnlike.layers import checks

TYPE = "Pooling"

# ModelWriter order: 0 1 [11] 2 [12] 3 [13] [14] [15] 4 5 6 7 8 [18]
PARAMS = pool_nd.params(rank=2)


def lower(layer, p, ctx):
    pool_nd.lower(layer, p, ctx, rank=2)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.pooling_family(p)
