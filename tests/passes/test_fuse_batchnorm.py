"""BatchNorm folding (spec 4.3 passes 1, 2, 5, 8, 11, 12): structure, float32 maths, same outputs."""
import numpy as np
import pytest

from passgraphs import assert_same_outputs, graph_from, types
from ncnnlike.passes import fuse_batchnorm as fb


def test_batchnorm_scale_folds_scale_and_bias_into_batchnorm(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=5 1=4 2=3
        BatchNorm bn 1 1 x b 0=3 1=1.000000e-03
        Scale sc 1 1 b y 0=3 1=1
    """, tmp_path)
    before, log = g.copy(), []
    assert fb.fuse_batchnorm_scale(g, log.append) == 1
    assert types(g) == ["Input", "BatchNorm"] and g.layers[1].tops == ["y"]
    assert log == ["fuse_batchnorm_scale bn sc"]
    s, sb = before.layers[2].weight("scale_data"), before.layers[2].weight("bias_data")
    np.testing.assert_array_equal(g.layers[1].weight("slope_data"), before.layers[1].weight("slope_data") * s)
    np.testing.assert_array_equal(g.layers[1].weight("bias_data"), before.layers[1].weight("bias_data") * s + sb)
    assert_same_outputs(before, g)


def test_convolution_batchnorm_fold_is_ncnn_float32_maths_and_creates_bias(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=7 1=6 2=3
        Convolution conv 1 1 x c 0=4 1=3 4=1 6=108
        BatchNorm bn 1 1 c y 0=4 1=1.000000e-05
    """, tmp_path)
    before, log = g.copy(), []
    assert fb.fuse_convolution_batchnorm(g, log.append) == 1
    conv = g.layers[1]
    assert types(g) == ["Input", "Convolution"] and conv.tops == ["y"] and conv.params[5] == 1
    assert list(conv.weights) == ["weight_data", "bias_data"]
    assert log == ["fuse_convolution_batchnorm conv bn"]
    bn = before.layers[2]
    slope, mean, var, bias = (bn.weight(n) for n in ("slope_data", "mean_data", "var_data", "bias_data"))
    sq = np.sqrt(var + np.float32(1e-5))
    b, a = slope / sq, bias - slope * mean / sq
    w = before.layers[1].weight("weight_data").reshape(4, -1)
    np.testing.assert_array_equal(conv.weight("weight_data"), (w * b[:, None]).reshape(-1))
    np.testing.assert_array_equal(conv.weight("bias_data"), np.zeros(4, np.float32) * b + a)
    assert_same_outputs(before, g)


@pytest.mark.parametrize("host, fold", [
    ("Convolution conv 1 1 x c 0=6 1=1 5=1 6=18", fb.fuse_convolution_batchnorm),
    ("ConvolutionDepthWise conv 1 1 x c 0=3 1=3 4=1 5=1 6=27 7=3", fb.fuse_convolutiondepthwise_batchnorm),
    ("ConvolutionDepthWise conv 1 1 x c 0=6 1=3 5=1 6=54 7=3", fb.fuse_convolutiondepthwise_batchnorm),
    ("Deconvolution conv 1 1 x c 0=6 1=3 3=2 5=1 6=162", fb.fuse_deconvolution_batchnorm),
    ("DeconvolutionDepthWise conv 1 1 x c 0=6 1=3 3=2 6=54 7=3", fb.fuse_deconvolutiondepthwise_batchnorm),
])
def test_conv_like_batchnorm_folds_with_same_outputs(tmp_path, host, fold):
    channels = int(host.split("0=")[1].split()[0])
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        %s
        BatchNorm bn 1 1 c y 0=%d 1=1.000000e-03
    """ % (host, channels), tmp_path)
    before = g.copy()
    assert fold(g) == 1
    assert types(g) == ["Input", host.split()[0]]
    assert_same_outputs(before, g)


def test_innerproduct_batchnorm_folds_per_output_row(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=12
        InnerProduct fc 1 1 x f 0=5 1=1 2=60
        BatchNorm bn 1 1 f y 0=5 1=1.000000e-03
    """, tmp_path)
    before = g.copy()
    assert fb.fuse_innerproduct_batchnorm(g) == 1
    assert types(g) == ["Input", "InnerProduct"]
    assert_same_outputs(before, g)


def test_no_fold_after_a_fused_activation_or_into_a_shared_top(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Convolution act 1 1 x a 0=3 1=1 6=9 9=1
        BatchNorm bn1 1 1 a b 0=3
        Split sp 1 2 b b0 b1
        Convolution shared 1 1 b0 s 0=3 1=1 6=9
        BatchNorm bn2 1 1 s y1 0=3
        Eltwise use 2 1 s b1 y2 0=1
    """, tmp_path)
    before = g.copy()
    assert fb.fuse_convolution_batchnorm(g) == 0
    assert types(g) == types(before)
