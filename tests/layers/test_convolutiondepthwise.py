"""ConvolutionDepthWise: grouped convolution vs a numpy reference, .bin buffer list by int8_scale_term;
vs pip ncnn on the SAME border edge cases (pad_value, the crops of negative totals, float and int8)
and the cases refused because ncnn writes outside its buffers there."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
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


@pytest.mark.parametrize("channels,outc,group,kernel,params,int8", [
    (3, 3, 3, (3, 3), "3=2 4=-233 18=1.500000e+00", False),        # depthwise SAME_UPPER with pad_value
    (6, 6, 6, (3, 1), "3=2 4=-234 18=2.000000e+00", False),        # w total -1: ncnn crops the first column
    (6, 9, 3, (1, 3), "3=2 4=-234 9=1", False),                    # grouped, h total -1: last row dropped
    (3, 6, 3, (3, 1), "3=2 4=-234 18=2.000000e+00 8=1", True),     # int8 depthwise on the cropped bottom
    (6, 6, 2, (3, 1), "3=2 4=-234 8=1", True),                     # int8 grouped
])
def test_same_borders_match_ncnn(channels, outc, group, kernel, params, int8, tmp_path):
    kh, kw = kernel
    text = "Input in 0 1 x\nConvolutionDepthWise dw 1 1 x y 0=%d 1=%d 11=%d 6=%d 7=%d 5=1 %s" % (
        outc, kw, kh, outc * channels // group * kh * kw, group, params)
    x = np.random.default_rng(1).standard_normal((channels, 7, 6)).astype(np.float32)
    check_ncnn(text, {"x": x}, tmp_path, atol=1e-5, rtol=1e-5, int8=int8)


@pytest.mark.parametrize("params,channels,message", [
    ({1: 1, 11: 3, 3: 2, 4: -233}, 3, "negative right border"),     # ncnn writes past its padded blob
    ({1: 1, 11: 3, 3: 2, 4: -234}, 4, "channel-packed"),            # pip ncnn's packed Padding overruns
    ({1: 3, 4: 2, 15: -1}, 3, "mix positive and negative"),
    ({1: 3, 19: 1}, 3, "dynamic_weight=1 is not supported"),
])
def test_bad_geometry_raises_naming_the_layer(params, channels, message):
    params = dict(params)
    params.update({0: channels, 7: channels, 6: channels * params[1] * params.get(11, params[1])})
    l = layer("ConvolutionDepthWise", "bad_dw", ["x"], ["y"], params, {"weight_data": np.zeros(params[6])})
    with pytest.raises(NcnnlikeError, match="bad_dw.*ConvolutionDepthWise.*" + message):
        run_layers([l], {"x": np.zeros((2, channels, 7, 6), np.float32)})
