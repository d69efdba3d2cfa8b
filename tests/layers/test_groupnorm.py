"""GroupNorm against pip ncnn: the channel axis of 1-D (w), 2-D (h), 3-D and 4-D (c) blobs, one or
several groups, affine and plain.

Tolerance 2e-6 abs: float32 two-pass mean/variance summed in a different order (measured <= 9.6e-7
on outputs of order 1-3).
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("shape,group", [
    ((12,), 3), ((6, 4), 2), ((6, 4, 5), 3), ((4, 3, 4, 5), 2), ((16, 7, 9), 4), ((32, 5, 5), 1),
])
@pytest.mark.parametrize("extra", ["", " 2=0.01 3=0"])
def test_groupnorm_matches_ncnn(tmp_path, shape, group, extra):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    line = "GroupNorm g 1 1 x y 0=%d 1=%d%s" % (group, shape[0], extra)
    check_ncnn("Input in 0 1 x\n" + line, {"x": x}, tmp_path, atol=2e-6, rtol=1e-5)


def test_bin_holds_gamma_then_beta_only_when_affine():
    specs = weight_specs(layer("GroupNorm", "g", ["x"], ["y"], {0: 4, 1: 8}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("gamma_data", 8, False), ("beta_data", 8, False)]
    assert weight_specs(layer("GroupNorm", "g", ["x"], ["y"], {0: 4, 1: 8, 3: 0})) == []


@pytest.mark.parametrize("params", [{0: 2, 1: 4, 3: 0}, {0: 4, 1: 6, 3: 0}, {1: 0, 3: 0}])
def test_channels_not_matching_the_blob_or_group_are_refused_naming_the_layer(params):
    with pytest.raises(NcnnlikeError, match=r"layer gn1 \(GroupNorm\).*channels"):
        run_layers([layer("GroupNorm", "gn1", ["x"], ["y"], params)], {"x": np.ones((1, 6, 4, 5), np.float32)})
