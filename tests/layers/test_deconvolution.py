"""Deconvolution vs a numpy scatter reference of deconvolution.cpp, and vs pip ncnn."""
import numpy as np
import pytest

from deconv_ref import deconv_layer, ref_deconv
from helpers import layer, run_layers


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
