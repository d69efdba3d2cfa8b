"""Deconvolution vs a numpy scatter reference of deconvolution.cpp, and vs pip ncnn (output_pad up to
and beyond the stride, the explicit and SAME cuts); the cuts ncnn cannot run raise."""
import numpy as np
import pytest

from deconv_ref import deconv_layer, ref_deconv
from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError


CASES = [
    # type, outc, group, kernel, stride, dilation, extra params, cut (t, l, b, r), output_pad (b, r)
    ("Deconvolution", 5, 1, (3, 3), (2, 2), (1, 1), {4: 1, 18: 1}, (1, 1, 1, 1), (1, 1)),
    ("Deconvolution", 4, 1, (2, 3), (1, 2), (2, 1), {4: 0}, (0, 0, 0, 0), (0, 0)),
    ("Deconvolution", 4, 1, (3, 3), (2, 2), (1, 1), {4: -233, 20: 14, 21: 12}, (0, 0, 1, 1), (0, 0)),
    ("Deconvolution", 4, 1, (3, 3), (2, 2), (1, 1), {4: -234, 20: 14, 21: 12}, (1, 1, 0, 0), (0, 0)),
    ("Deconvolution", 3, 1, (4, 4), (2, 2), (1, 1), {4: 1, 14: 2, 15: 0, 16: 1, 9: 1}, (2, 1, 1, 0), (0, 0)),
]


@pytest.mark.parametrize("type_,outc,group,k,s,d,params,cut,out_pad", CASES)
def test_deconvolution_matches_scatter_reference(type_, outc, group, k, s, d, params, cut, out_pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 7)).astype(np.float32)
    l, w, b = deconv_layer(type_, x, outc, group, k, s, d, params, rng)
    y = run_layers([l], {"x": x})["y"]
    ref = ref_deconv(x, w, b, group, k, s, d, cut, out_pad, params.get(9, 0))
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_output_pad_region_holds_bias_and_activation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    l, w, b = deconv_layer("Deconvolution", x, 2, 1, (1, 1), (2, 2), (1, 1), {18: 1}, rng)
    y = run_layers([l], {"x": x})["y"]
    assert y.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(y[:, :, -1, :], np.broadcast_to(b.reshape(1, 2, 1), (2, 2, 6)), rtol=1e-6)


def test_matches_pip_ncnn():
    ncnn = pytest.importorskip("ncnn")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 6)).astype(np.float32)
    w = rng.standard_normal(4 * 3 * 3 * 3).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    line = "0=4 1=3 3=2 4=1 18=1 5=1 6=%d 9=1" % w.size
    text = "7767517\n2 2\nInput in 0 1 x 0=6 1=5 2=3\nDeconvolution de 1 1 x y %s\n" % line
    blob = np.zeros(1, np.uint32).tobytes() + w.tobytes() + b.tobytes()
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = False    # pip ncnn stores some weights/blobs as fp16 on x86 by default
    net.opt.use_bf16_storage = False
    net.load_param_mem(text)
    net.load_model_mem(blob)
    ex = net.create_extractor()
    ex.input("x", ncnn.Mat(x))
    _, out = ex.extract("y")
    ref = np.array(out)
    l = layer("Deconvolution", "de", ["x"], ["y"], {0: 4, 1: 3, 3: 2, 4: 1, 18: 1, 5: 1, 6: w.size, 9: 1},
              {"weight_data": w, "bias_data": b})
    y = run_layers([l], {"x": x[None]})["y"][0]
    assert y.shape == ref.shape == (4, 10, 12)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


X_CHW = np.random.default_rng(3).standard_normal((3, 5, 6)).astype(np.float32)


def deconv_line(type_, outc, group, params, channels=3, k=3):
    size = outc * channels // group * k * k
    extra = " 7=%d" % group if type_ == "DeconvolutionDepthWise" else ""
    return "Input in 0 1 x\n%s de 1 1 x y 0=%d 1=%d 6=%d 5=1%s %s" % (type_, outc, k, size, extra, params)


@pytest.mark.parametrize("params", [
    "3=2 18=2",                                # output_pad = stride: onnxruntime's ConvTranspose refuses it
    "3=2 18=3 19=1 9=1",                       # output_pad beyond the stride, per axis
    "3=2 4=1 18=2",                            # ... then the explicit cut
    "3=2 4=-233 18=3 20=12 21=10",             # ... then the SAME_UPPER cut to output_w x output_h
    "3=2 14=-234 20=12 21=10",                 # SAME_LOWER: any one pad -234 selects it
    "3=2 4=-233 20=10",                        # output_h links to output_w
    "3=2 4=-233 20=12 21=0",                   # output_h 0: no cut at all
])
def test_cut_and_output_pad_match_ncnn(params, tmp_path):
    check_ncnn(deconv_line("Deconvolution", 4, 1, params), {"x": X_CHW}, tmp_path, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("params,message", [
    ({20: 12, 21: 10}, "no pad is -233/-234"),                # ncnn's forward returns -100
    ({4: 1, 14: -1}, "mix positive and negative"),            # ncnn's cut reads before the full output
    ({4: -233, 20: 15, 21: 10}, "larger than the full output"),
    ({4: 6}, "leaves nothing"),
    ({28: 1}, "dynamic_weight=1 is not supported"),
])
def test_bad_cut_raises_naming_the_layer(params, message):
    params = dict(params)
    params.update({0: 4, 1: 3, 3: 2, 6: 108})
    l = layer("Deconvolution", "bad_de", ["x"], ["y"], params, {"weight_data": np.zeros(108, np.float32)})
    with pytest.raises(NcnnlikeError, match="bad_de.*Deconvolution.*" + message):
        run_layers([l], {"x": X_CHW[None]})
