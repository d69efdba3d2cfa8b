"""DeconvolutionDepthWise: grouped transposed convolution vs the numpy scatter reference."""
import numpy as np
import pytest

from deconv_ref import deconv_layer, ref_deconv
from helpers import run_layers
from ncnnlike.layers.base import explicit_params


@pytest.mark.parametrize("outc,group,params,cut,out_pad", [
    (6, 6, {4: 1}, (1, 1, 1, 1), (0, 0)),
    (4, 2, {4: 1, 18: 1}, (1, 1, 1, 1), (1, 1)),
    (12, 6, {4: 0, 9: 1}, (0, 0, 0, 0), (0, 0)),
])
def test_grouped_deconvolution_matches_reference(outc, group, params, cut, out_pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 5, 4)).astype(np.float32)
    l, w, b = deconv_layer("DeconvolutionDepthWise", x, outc, group, (4, 4), (2, 2), (1, 1), params, rng)
    y = run_layers([l], {"x": x})["y"]
    ref = ref_deconv(x, w, b, group, (4, 4), (2, 2), (1, 1), cut, out_pad, params.get(9, 0))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_group_is_written_after_weight_data_size():
    rng = np.random.default_rng(1)
    x = np.zeros((1, 4, 2, 2), np.float32)
    l, _, _ = deconv_layer("DeconvolutionDepthWise", x, 4, 4, (3, 3), (2, 2), (1, 1), {9: 1}, rng)
    assert [pid for pid, _ in explicit_params(l)] == [0, 1, 3, 5, 6, 7, 9]
