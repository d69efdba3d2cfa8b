"""SPP: spatial pyramid pooling checked against spp.cpp's maths written as loops, since pip ncnn is
built without SPP (no oracle); output is the flat c * (4^levels - 1) / 3 vector spp.cpp writes.
"""
import math

import ncnn
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


def spp_ref(x, pooling_type, pyramid_height):
    """spp.cpp forward for one (c, h, w) sample: zero border, windows of ceil(size / bins)."""
    c, h, w = x.shape
    out = []
    for level in range(pyramid_height):
        bins = 1 << level
        kh, kw = math.ceil(h / bins), math.ceil(w / bins)
        ph, pw = (kh * bins - h + 1) // 2, (kw * bins - w + 1) // 2
        padded = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
        for q in range(c):
            for i in range(bins):
                for j in range(bins):
                    win = padded[q, i * kh:(i + 1) * kh, j * kw:(j + 1) * kw]
                    out.append(win.max() if pooling_type == 0 else win.sum() / (kh * kw))
    return np.array(out, np.float32)


def test_pip_ncnn_has_no_spp_layer():
    assert ncnn.create_layer("SPP") is None


@pytest.mark.parametrize("shape", [(3, 8, 8), (2, 7, 5), (4, 13, 9), (1, 1, 3)])
@pytest.mark.parametrize("pooling_type", [0, 1])
@pytest.mark.parametrize("pyramid_height", [1, 3])
def test_spp_matches_spp_cpp(shape, pooling_type, pyramid_height):
    x = RNG.standard_normal((2,) + shape).astype(np.float32) - 1     # mostly negative: zero pads show
    y = run_layers([layer("SPP", "s", ["x"], ["y"], {0: pooling_type, 1: pyramid_height})], {"x": x})["y"]
    bins = (4 ** pyramid_height - 1) // 3
    assert y.shape == (2, shape[0] * bins)
    for n in range(2):
        np.testing.assert_allclose(y[n], spp_ref(x[n], pooling_type, pyramid_height), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("params,shape,match", [
    ({0: 2}, (3, 4, 5), "pooling_type"),
    ({1: 0}, (3, 4, 5), "pyramid_height"),
    ({}, (4, 5), "3-D"),
])
def test_bad_params_are_refused_naming_the_layer(params, shape, match):
    with pytest.raises(NcnnlikeError, match=r"layer spp1 \(SPP\).*" + match):
        run_layers([layer("SPP", "spp1", ["x"], ["y"], params)], {"x": np.ones((1,) + shape, np.float32)})
