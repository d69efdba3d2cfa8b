"""Activation fusion (spec 4.3 passes 17-21): which activation fuses into which layer, the fused
params, the same outputs, and an already-set activation left alone."""
import pytest

from passgraphs import assert_same_outputs, graph_from, types
from ncnnlike.passes import fuse_activation as fa

ACTIVATIONS = {
    "ReLU": ("", 1, None),
    "ReLU slope": ("0=1.000000e-01", 2, [0.1]),
    "Clip": ("0=0.000000e+00 1=6.000000e+00", 3, [0.0, 6.0]),
    "Sigmoid": ("", 4, None),
    "Mish": ("", 5, None),
    "HardSwish": ("0=2.000000e-01 1=5.000000e-01", 6, [0.2, 0.5]),
}
HOSTS = {
    "Convolution": ("Input in 0 1 x 0=6 1=5 2=3", "Convolution h 1 1 x c 0=4 1=3 4=1 5=1 6=108",
                    fa.fuse_convolution_activation),
    "ConvolutionDepthWise": ("Input in 0 1 x 0=6 1=5 2=3", "ConvolutionDepthWise h 1 1 x c 0=3 1=3 5=1 6=27 7=3",
                             fa.fuse_convolutiondepthwise_activation),
    "Deconvolution": ("Input in 0 1 x 0=6 1=5 2=3", "Deconvolution h 1 1 x c 0=2 1=2 3=2 5=1 6=24",
                      fa.fuse_deconvolution_activation),
    "DeconvolutionDepthWise": ("Input in 0 1 x 0=6 1=5 2=3",
                               "DeconvolutionDepthWise h 1 1 x c 0=3 1=2 3=2 5=1 6=12 7=3",
                               fa.fuse_deconvolutiondepthwise_activation),
    "InnerProduct": ("Input in 0 1 x 0=12", "InnerProduct h 1 1 x c 0=5 1=1 2=60", fa.fuse_innerproduct_activation),
}
NOT_FUSED = {"Deconvolution": ("Mish", "HardSwish"), "DeconvolutionDepthWise": ("Mish", "HardSwish")}


@pytest.mark.parametrize("host", sorted(HOSTS))
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_activation_fuses_where_ncnn_allows_with_same_outputs(tmp_path, host, act):
    input_line, host_line, fuse = HOSTS[host]
    act_params, want_type, want_params = ACTIVATIONS[act]
    g = graph_from("\n".join([input_line, host_line, "%s a 1 1 c y %s" % (act.split()[0], act_params)]), tmp_path)
    before, log = g.copy(), []
    count = fuse(g, log.append)
    if act.split()[0] in NOT_FUSED.get(host, ()):
        assert count == 0 and types(g) == types(before)
        return
    assert count == 1 and types(g) == ["Input", host] and g.layers[1].tops == ["y"]
    assert g.layers[1].params[9] == want_type
    assert g.layers[1].params.get(10) == (want_params and pytest.approx(want_params))
    assert log == ["fuse_%s_activation h a" % host.lower()]
    assert_same_outputs(before, g)


def test_an_already_set_activation_is_not_overwritten(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Convolution h 1 1 x c 0=4 1=3 4=1 5=1 6=108 9=1
        Clip a 1 1 c y 0=-1.000000e+00 1=1.000000e+00
    """, tmp_path)
    before = g.copy()
    assert fa.fuse_convolution_activation(g) == 0
    assert types(g) == ["Input", "Convolution", "Clip"]
    assert_same_outputs(before, g)


def test_activation_on_a_shared_top_is_not_fused(tmp_path):
    g = graph_from("""
        Input in 0 1 x 0=6 1=5 2=3
        Convolution h 1 1 x c 0=4 1=3 4=1 5=1 6=108
        ReLU a 1 1 c y
        Sigmoid s 1 1 c z
    """, tmp_path)
    assert fa.fuse_convolution_activation(g) == 0 and len(g.layers) == 4
