"""DeformableConv2D vs pip ncnn: offsets that move taps inside, across and far outside the image
(bilinear with zero outside), integer offsets (corners hit exactly), mask bottom, kernel/stride/
dilation/pads per axis, bias, fused activations. Float tolerance: ncnn's x86 kernel sums the taps
through an sgemm in its own order (and with FMA)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from conv_checks import ACTIVATIONS, bin_specs, written_ids
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)
C, H, W = 3, 6, 7
X = RNG.standard_normal((C, H, W)).astype(np.float32)


def out_hw(k, s, d, pads):
    """pads (top, left, bottom, right)."""
    oh = (H + pads[0] + pads[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (W + pads[1] + pads[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    return oh, ow


def case(tmp_path, outc, k, s=(1, 1), d=(1, 1), pads=(0, 0, 0, 0), extra="", mask=False, spread=2.0,
         integer=False, x=X, atol=1e-5):
    """One DeformableConv2D layer line with offsets (and mask) as input blobs, checked against ncnn."""
    oh, ow = out_hw(k, s, d, pads)
    taps = k[0] * k[1]
    offset = RNG.normal(0, spread, (2 * taps, oh, ow)).astype(np.float32)
    if integer:
        offset = np.round(offset)
    feeds = {"x": x, "off": offset}
    if mask:
        feeds["m"] = RNG.uniform(0, 1, (taps, oh, ow)).astype(np.float32)
    params = "0=%d 1=%d 11=%d 2=%d 12=%d 3=%d 13=%d 4=%d 14=%d 16=%d 15=%d 6=%d %s" % (
        outc, k[1], k[0], d[1], d[0], s[1], s[0], pads[1], pads[0], pads[2], pads[3], outc * x.shape[0] * taps, extra)
    names = " ".join(feeds)
    text = "Input in 0 %d %s\nDeformableConv2D dc %d 1 %s y %s" % (len(feeds), names, len(feeds), names, params)
    return check_ncnn(text, feeds, tmp_path, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("outc,k,s,d,pads,extra", [
    (4, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), "5=1"),
    (5, (3, 2), (2, 1), (1, 2), (0, 1, 2, 0), "5=1"),
    (4, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), ""),
    (8, (2, 3), (1, 2), (2, 1), (2, 0, 1, 3), "5=1"),
])
def test_geometry_matches_ncnn(outc, k, s, d, pads, extra, tmp_path):
    case(tmp_path, outc, k, s, d, pads, extra)


@pytest.mark.parametrize("spread,integer", [(0.4, False), (6.0, False), (1.5, True), (100.0, False)])
def test_offsets_inside_across_and_outside_the_image(spread, integer, tmp_path):
    case(tmp_path, 4, (3, 3), pads=(1, 1, 1, 1), extra="5=1", spread=spread, integer=integer)


@pytest.mark.parametrize("channels", [8, 16])
def test_packed_channels_match_ncnn(channels, tmp_path):
    """ncnn's x86 kernel packs 4/8/16 channels (deformableconv2d_x86.cpp elempack branches)."""
    x = RNG.standard_normal((channels, H, W)).astype(np.float32)
    case(tmp_path, 16, (3, 3), pads=(1, 1, 1, 1), extra="5=1", mask=True, x=x)


def test_mask_bottom_matches_ncnn(tmp_path):
    case(tmp_path, 4, (3, 3), s=(2, 2), pads=(1, 1, 1, 1), extra="5=1", mask=True)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_fused_activations_match_ncnn(act, tmp_path):
    case(tmp_path, 4, (3, 3), pads=(1, 1, 1, 1), extra="5=1 " + act, mask=True)


def test_bin_sizes_and_writer_order():
    l = layer("DeformableConv2D", "dc", ["x", "o"], ["y"], {0: 4, 1: 3, 11: 2, 5: 1, 6: 72, 16: 1, 9: 1})
    assert bin_specs(l) == [("weight_data", 72, True), ("bias_data", 4, False)]
    assert written_ids(l) == [0, 1, 11, 16, 5, 6, 9]


@pytest.mark.parametrize("params,offset_shape,message", [
    ({0: 2, 1: 3, 6: 54, 4: -233}, (18, 6, 7), "negative pads"),
    ({0: 2, 1: 3, 6: 53, 4: 1}, (18, 6, 7), "weight_data_size 53"),
    ({0: 2, 1: 3, 6: 54, 4: 1}, (36, 6, 7), r"offset blob must have shape \(18, 6, 7\)"),
    ({0: 2, 1: 3, 6: 54, 4: 1, 9: 9}, (18, 6, 7), "activation_type 9"),
])
def test_bad_params_raise_naming_the_layer(params, offset_shape, message):
    l = layer("DeformableConv2D", "bad_dc", ["x", "o"], ["y"], params,
              {"weight_data": np.zeros(params[6], np.float32)})
    with pytest.raises(NcnnlikeError, match="bad_dc.*DeformableConv2D.*" + message):
        run_layers([l], {"x": X[None], "o": np.zeros((1,) + offset_shape, np.float32)})
