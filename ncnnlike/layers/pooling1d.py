"""Pooling1D (pooling1d.cpp; no x86 kernel, pip ncnn runs the reference): max/avg pooling along w of
a 2-D blob (h = channels, w = length); global (a 1-D blob of h values), adaptive (out_w, no -233
shortcut unlike Pooling/Pooling3D), the four pad modes (0 full, 1 valid, 2 SAME_UPPER, 3 SAME_LOWER)
and avgpool_count_include_pad. A 1-D blob pools as h = 1. Lowering: pool_nd.py, nd_geometry.py."""
from ncnnlike.layers import pool_nd
from ncnnlike.layers import checks

TYPE = "Pooling1D"
# ModelWriter order (modelwriter.h): 0 1 2 3 [14] 4 5 6 7 8
PARAMS = pool_nd.params(rank=1)


def lower(layer, p, ctx):
    pool_nd.lower(layer, p, ctx, rank=1)


BLOBS = (1, 1)


def check_params(p):
    """What ncnn's load_param and forward need (layers/checks.py)."""
    checks.pooling_family(p)
