"""Permute: ncnn order_type tables for 2-D, 3-D and 4-D blobs (checked against pip ncnn)."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)

# 3-D (c, h, w): order_type -> numpy transpose (permute.cpp comments "w h c", "h w c", ...)
PERM3 = {0: (0, 1, 2), 1: (0, 2, 1), 2: (1, 0, 2), 3: (1, 2, 0), 4: (2, 0, 1), 5: (2, 1, 0)}
# 4-D (c, d, h, w): a sample of the 24 orders
PERM4 = {0: (0, 1, 2, 3), 1: (0, 1, 3, 2), 5: (0, 3, 2, 1), 6: (1, 0, 2, 3), 9: (1, 2, 3, 0),
         13: (2, 0, 3, 1), 18: (3, 0, 1, 2), 23: (3, 2, 1, 0)}


def permute(x, order_type):
    return run_layers([layer("Permute", "p", ["x"], ["y"], {0: order_type})], {"x": x})["y"]


@pytest.mark.parametrize("order_type", sorted(PERM3))
def test_3d_orders(order_type):
    x = RNG.standard_normal((2, 2, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(permute(x, order_type), x.transpose((0,) + tuple(a + 1 for a in PERM3[order_type])))


@pytest.mark.parametrize("order_type", sorted(PERM4))
def test_4d_orders(order_type):
    x = RNG.standard_normal((2, 2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(permute(x, order_type), x.transpose((0,) + tuple(a + 1 for a in PERM4[order_type])))


def test_2d_order_1_transposes():
    x = RNG.standard_normal((2, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(permute(x, 1), x.transpose(0, 2, 1))


def test_order_out_of_range_raises():
    with pytest.raises(NcnnlikeError, match="p.*order_type 6"):
        permute(np.zeros((1, 2, 3, 4), np.float32), 6)
