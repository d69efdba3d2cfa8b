"""ConvolutionDepthWise: grouped convolution vs a numpy reference, .bin buffer list by int8_scale_term."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs


def ref_group_conv(x, w, b, group, stride, pad):
    """x (n, c, h, w); w (outc, c/g, kh, kw); symmetric zero pad; plain loops."""
    n, c, h, wd = x.shape
    outc, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, outc, oh, ow), np.float64)
    og = outc // group
    for o in range(outc):
        g = o // og
        for i in range(oh):
            for j in range(ow):
                win = xp[:, g * cg:(g + 1) * cg, i * stride:i * stride + kh, j * stride:j * stride + kw]
                y[:, o, i, j] = (win * w[o]).sum(axis=(1, 2, 3)) + b[o]
    return y.astype(np.float32)


@pytest.mark.parametrize("c,outc,group", [(4, 4, 4), (4, 8, 4), (6, 4, 2)])
def test_grouped_conv_matches_reference(c, outc, group):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c, 7, 8)).astype(np.float32)
    w = rng.standard_normal((outc, c // group, 3, 3)).astype(np.float32)
    b = rng.standard_normal(outc).astype(np.float32)
    params = {0: outc, 1: 3, 3: 2, 4: 1, 5: 1, 6: w.size, 7: group, 9: 1}
    l = layer("ConvolutionDepthWise", "dw", ["x"], ["y"], params, {"weight_data": w.ravel(), "bias_data": b})
    y = run_layers([l], {"x": x})["y"]
    ref = np.maximum(ref_group_conv(x, w, b, group, 2, 1), 0)
    assert y.shape == ref.shape == (2, outc, 4, 4)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("term,expected", [
    (0, [("weight_data", 72), ("bias_data", 8)]),
    (1, [("weight_data", 72), ("bias_data", 8), ("weight_data_int8_scales", 4), ("bottom_blob_int8_scales", 1)]),
    (2, [("weight_data", 72), ("bias_data", 8), ("weight_data_int8_scales", 1), ("bottom_blob_int8_scales", 1)]),
    (101, [("weight_data", 72), ("bias_data", 8), ("weight_data_int8_scales", 4), ("bottom_blob_int8_scales", 1),
           ("top_blob_int8_scales", 1)]),
    (102, [("weight_data", 72), ("bias_data", 8), ("weight_data_int8_scales", 1), ("bottom_blob_int8_scales", 1),
           ("top_blob_int8_scales", 1)]),
    (3, [("weight_data", 72), ("bias_data", 8)]),
])
def test_int8_scale_buffers_follow_int8_scale_term(term, expected):
    l = layer("ConvolutionDepthWise", "dw", ["x"], ["y"], {0: 8, 1: 3, 5: 1, 6: 72, 7: 4, 8: term})
    specs = weight_specs(l)
    assert [(s.name, s.count) for s in specs] == expected
    assert [s.tagged for s in specs] == [True] + [False] * (len(specs) - 1)


def test_group_must_divide_num_output():
    x = np.zeros((2, 4, 5, 5), np.float32)
    l = layer("ConvolutionDepthWise", "dw", ["x"], ["y"], {0: 6, 1: 1, 6: 6, 7: 4}, {"weight_data": np.ones(6)})
    with pytest.raises(NcnnlikeError, match="group"):
        run_layers([l], {"x": x})
