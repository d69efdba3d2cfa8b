"""DeconvolutionDepthWise: grouped transposed convolution vs the numpy scatter reference, and vs pip
ncnn with output_pad up to and beyond the stride and the SAME cut."""
import numpy as np
import pytest

from deconv_ref import deconv_layer, ref_deconv
from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
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


@pytest.mark.parametrize("channels,outc,group,params", [
    (6, 6, 6, "3=2 18=2"),                          # depthwise, output_pad = stride
    (8, 8, 8, "3=2 18=3 19=2 9=1"),                 # packed channels, output_pad beyond the stride
    (6, 4, 2, "3=2 4=-234 18=2 20=11 21=9"),        # grouped: output_pad, then the SAME_LOWER cut
])
def test_output_pad_and_cut_match_ncnn(channels, outc, group, params, tmp_path):
    x = np.random.default_rng(2).standard_normal((channels, 4, 5)).astype(np.float32)
    text = "Input in 0 1 x\nDeconvolutionDepthWise de 1 1 x y 0=%d 1=3 6=%d 7=%d 5=1 %s" % (
        outc, outc * channels // group * 9, group, params)
    check_ncnn(text, {"x": x}, tmp_path, atol=1e-5, rtol=1e-5)


def test_group_must_divide_channels():
    l = layer("DeconvolutionDepthWise", "bad_de", ["x"], ["y"], {0: 4, 1: 3, 6: 36, 7: 4},
              {"weight_data": np.zeros(36, np.float32)})
    with pytest.raises(NcnnlikeError, match="bad_de.*DeconvolutionDepthWise.*group 4"):
        run_layers([l], {"x": np.zeros((2, 6, 4, 5), np.float32)})
