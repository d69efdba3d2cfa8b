"""Normalize against pip ncnn: the three region branches (and the no-op fourth), channel_shared,
the three eps_modes, on 1-D/2-D/3-D/4-D blobs; the .bin holds scale_data raw.

Tolerance 1e-6: float sums of squares in a different order (measured <= 1.8e-7 abs on outputs of
order 1).
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
SHAPES = [(12,), (3, 4), (3, 4, 5), (2, 3, 4, 5)]


def channels(shape):
    return shape[0] if len(shape) >= 3 else 1


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("params", [
    "0=1 3=C",                      # across spatial and channels, one scale per channel
    "0=1 1=1 3=1",                  # ... channel_shared
    "0=1 4=0 3=C 9=2",              # across spatial only, per channel
    "0=0 3=C",                      # across channels only (SSD's conv4_3_norm)
    "0=0 1=1 3=1 9=1",
    "0=0 4=0 3=C",                  # neither: ncnn passes the blob through
])
def test_normalize_matches_ncnn(tmp_path, shape, params):
    x = RNG.standard_normal(shape).astype(np.float32) * 2
    params = params.replace("C", str(channels(shape)))
    check_ncnn("Input in 0 1 x\nNormalize n 1 1 x y " + params, {"x": x}, tmp_path, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("eps_mode", [0, 1, 2])
def test_eps_modes_where_eps_dominates_match_ncnn(tmp_path, eps_mode):
    x = RNG.standard_normal((3, 4, 5)).astype(np.float32) * 0.1      # sum of squares ~0.03 < eps
    check_ncnn("Input in 0 1 x\nNormalize n 1 1 x y 2=0.5 3=3 9=%d" % eps_mode, {"x": x}, tmp_path,
               atol=1e-6, rtol=1e-6)


def test_bin_holds_scale_data_raw():
    specs = weight_specs(layer("Normalize", "n", ["x"], ["y"], {3: 16}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("scale_data", 16, False)]


@pytest.mark.parametrize("params", [{3: 2}, {3: 0, 1: 1}])
def test_too_few_scales_are_refused_naming_the_layer(params):
    with pytest.raises(NcnnlikeError, match=r"layer norm1 \(Normalize\).*scale_data_size"):
        run_layers([layer("Normalize", "norm1", ["x"], ["y"], params,
                          {"scale_data": np.ones(max(params[3], 1), np.float32)})],
                   {"x": np.ones((1, 3, 4, 5), np.float32)})
