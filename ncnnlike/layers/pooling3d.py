"""Pooling3D (pooling3d.cpp; no x86 kernel, pip ncnn runs the reference): max/avg pooling over
(d, h, w) of a 4-D blob (c, d, h, w) (a 3-D blob pools as d = 1); global (a 1-D blob of c values),
adaptive (out_w/out_h/out_d, -233 keeps that size, all equal passes the bottom through), the four pad
modes and avgpool_count_include_pad. SAME_LOWER pads depth as SAME_UPPER, like ncnn
(nd_geometry.same_borders). Lowering: pool_nd.py, nd_geometry.py."""
from ncnnlike.layers import pool_nd
from ncnnlike.layers import checks

TYPE = "Pooling3D"
# ModelWriter order: 0 1 [11 21] 2 [12 22] 3 [13 23] [14] [15] [16] 4 5 6 7 8 [18 28]
PARAMS = pool_nd.params(rank=3)


def lower(layer, p, ctx):
    pool_nd.lower(layer, p, ctx, rank=3)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.pooling_family(p)
