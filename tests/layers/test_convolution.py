"""Convolution (2-D) vs pip ncnn (its x86 kernel) on the geometry edge cases: SAME modes with pad_value,
negative SAME borders (ncnn crops the bottom), a partial -233 (no border), float and int8; and the
cases refused because ncnn writes outside its buffers there (nd_geometry.py). Float tolerance (the x86
kernel sums in its own order); int8 outputs to float rounding."""
import os

import numpy as np
import pytest

from helpers import layer, ncnn_extract, ncnn_net, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import resolve
from ncnnlike.layers.convolution import pads_and_out

RNG = np.random.default_rng(0)


def line(outc, channels, kernel, params, type_="Convolution"):
    """kernel = (kh, kw)."""
    kh, kw = kernel
    return "%s c 1 1 x y 0=%d 1=%d 11=%d 6=%d 5=1 %s" % (type_, outc, kw, kh, outc * channels * kh * kw, params)


def check(outc, shape, kernel, params, tmp_path, int8=False):
    x = RNG.standard_normal(shape).astype(np.float32)
    check_ncnn("Input in 0 1 x\n" + line(outc, shape[0], kernel, params), {"x": x}, tmp_path,
               atol=1e-5, rtol=1e-5, int8=int8)


@pytest.mark.parametrize("shape,kernel,params", [
    ((3, 7, 6), (3, 3), "3=2 4=-233 18=1.500000e+00"),             # SAME_UPPER pads with pad_value
    ((3, 7, 6), (3, 3), "3=2 4=-234 18=-2.500000e+00"),            # SAME_LOWER pads with pad_value
    ((3, 7, 6), (3, 1), "3=2 4=-234"),                             # w total -1: ncnn crops the first column
    ((3, 7, 6), (3, 1), "3=2 4=-234 18=2.000000e+00 9=1"),         # ... and pads h with pad_value
    ((5, 8, 7), (1, 3), "3=2 4=-234"),                             # h total -1: ncnn drops the last row
    ((6, 8, 6), (1, 1), "3=2 4=-233"),                             # both totals < 0: no border
    ((3, 7, 11), (3, 1), "3=2 4=-234 9=2 -23310=1,1.000000e-01"),  # w = 11: the last width ncnn crops in bounds
])
def test_same_borders_match_ncnn(shape, kernel, params, tmp_path):
    check(4, shape, kernel, params, tmp_path)


@pytest.mark.parametrize("shape,kernel,params", [
    ((3, 7, 6), (3, 1), "3=2 4=-234 8=1"),                         # int8, crop of the first column
    ((4, 7, 6), (3, 1), "3=2 4=-234 8=101"),                       # 4 channels: ncnn's int8 blob is unpacked
    ((3, 7, 6), (3, 3), "3=2 4=-233 18=3.000000e+00 8=101"),       # SAME with (int8)pad_value
])
def test_int8_same_borders_match_ncnn(shape, kernel, params, tmp_path):
    check(4, shape, kernel, params, tmp_path, int8=True)


def ncnn_files(text, blob, x, folder):
    """pip ncnn on a hand-written .param text and .bin bytes, one sample."""
    param, binfile = os.path.join(folder, "m.param"), os.path.join(folder, "m.bin")
    with open(param, "w") as f:
        f.write(text)
    with open(binfile, "wb") as f:
        f.write(blob)
    return ncnn_extract(ncnn_net(param, binfile), {"x": x}, ["y"])["y"]


def test_partial_same_pads_add_no_border_like_ncnn(tmp_path):
    """make_padding takes SAME only when all four pads are -233: 4=-233 14=0 pads nothing. Run by hand
    (the .param checks refuse such pads), on the same weights in both runtimes."""
    x = RNG.standard_normal((3, 7, 6)).astype(np.float32)
    w = RNG.standard_normal(4 * 3 * 9).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    params = {0: 4, 1: 3, 3: 2, 4: -233, 14: 0, 5: 1, 6: w.size}
    text = "7767517\n2 2\nInput in 0 1 x\nConvolution c 1 1 x y %s\n" % " ".join("%d=%d" % kv for kv in params.items())
    ref = ncnn_files(text, np.zeros(1, np.uint32).tobytes() + w.tobytes() + b.tobytes(), x, str(tmp_path))
    l = layer("Convolution", "c", ["x"], ["y"], params, {"weight_data": w, "bias_data": b})
    y = run_layers([l], {"x": x[None]})["y"][0]
    assert y.shape == ref.shape == (4, 3, 2)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("params,shape,int8,message", [
    ({1: 1, 11: 3, 3: 2, 4: -233}, (3, 7, 6), False, "negative right border"),    # ncnn writes past its blob
    ({1: 3, 11: 1, 3: 2, 4: -233}, (3, 6, 7), False, "negative bottom border"),
    ({1: 1, 11: 3, 3: 2, 4: -234}, (3, 7, 12), False, "negative left border"),     # row memcpy overwrites
    ({1: 1, 11: 3, 3: 2, 4: -234}, (4, 7, 6), False, "channel-packed"),            # x86 packed Padding
    ({1: 1, 11: 3, 3: 2, 4: -234}, (8, 7, 6), True, "channel-packed"),             # int8: packed by 8
    ({1: 3, 4: 1, 14: -1}, (3, 7, 6), False, "mix positive and negative"),
    ({1: 3, 19: 1}, (3, 7, 6), False, "dynamic_weight=1 is not supported"),
    ({1: 3}, (7, 6), False, "expects a 3-D"),
    ({1: 9}, (3, 7, 6), False, "larger than the padded size"),
])
def test_bad_geometry_raises_naming_the_layer(params, shape, int8, message):
    c = shape[0] if len(shape) == 3 else 1
    params = dict(params)
    params.update({0: 4, 6: 4 * c * params[1] * params.get(11, params[1])})
    weights = {"weight_data": np.zeros(params[6], np.float32)}
    if int8:
        params[8] = 1
        weights.update(weight_data_int8_scales=np.ones(4, np.float32), bottom_blob_int8_scales=np.ones(1, np.float32))
    l = layer("Convolution", "bad_c", ["x"], ["y"], params, weights)
    with pytest.raises(NcnnlikeError, match="bad_c.*Convolution.*" + message):
        run_layers([l], {"x": np.zeros((2,) + shape, np.float32)}, int8=int8)


def test_pads_and_out_gives_onnx_pads_and_refuses_a_crop():
    """int8.py and method=eq take [top, left, bottom, right]; a negative border is a crop they cannot pad."""
    same = resolve(layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 3, 11: 2, 3: 2, 4: -234}))
    assert pads_and_out(same, 7, 6) == ([1, 1, 0, 0], (4, 3))
    partial = resolve(layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 3, 3: 2, 4: -233, 14: 0}))
    assert pads_and_out(partial, 7, 6) == ([0, 0, 0, 0], (3, 2))
    crop = resolve(layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 1, 11: 3, 3: 2, 4: -234}))
    with pytest.raises(NcnnlikeError, match="negative border"):
        pads_and_out(crop, 7, 6)
