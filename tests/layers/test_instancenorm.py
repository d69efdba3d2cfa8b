"""InstanceNorm against pip ncnn: affine and plain, 1-D/2-D (one channel) to 4-D blobs.

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


@pytest.mark.parametrize("shape", [(12,), (3, 4), (3, 4, 5), (2, 3, 4, 5), (16, 7, 9)])
@pytest.mark.parametrize("params", ["0=C", "0=C 1=0.01 2=0"])
def test_instancenorm_matches_ncnn(tmp_path, shape, params):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    c = shape[0] if len(shape) >= 3 else 1
    check_ncnn("Input in 0 1 x\nInstanceNorm n 1 1 x y " + params.replace("C", str(c)), {"x": x}, tmp_path,
               atol=2e-6, rtol=1e-5)


def test_more_channels_than_the_blob_uses_the_first_ones(tmp_path):
    x = (RNG.standard_normal((3, 4, 5)) * 3 + 1).astype(np.float32)
    check_ncnn("Input in 0 1 x\nInstanceNorm n 1 1 x y 0=5", {"x": x}, tmp_path, atol=2e-6, rtol=1e-5)


def test_bin_holds_gamma_then_beta_only_when_affine():
    specs = weight_specs(layer("InstanceNorm", "n", ["x"], ["y"], {0: 8}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("gamma_data", 8, False), ("beta_data", 8, False)]
    assert weight_specs(layer("InstanceNorm", "n", ["x"], ["y"], {0: 8, 2: 0})) == []


def test_fewer_channels_than_the_blob_are_refused_naming_the_layer():
    lay = layer("InstanceNorm", "in1", ["x"], ["y"], {0: 2},
                {"gamma_data": np.ones(2, np.float32), "beta_data": np.zeros(2, np.float32)})
    with pytest.raises(NcnnlikeError, match=r"layer in1 \(InstanceNorm\).*channels 2"):
        run_layers([lay], {"x": np.ones((1, 3, 4, 5), np.float32)})
