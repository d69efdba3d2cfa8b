"""Pooling3D vs pip ncnn (the reference kernel): max/avg, per-axis kernel/stride/pads, the four pad
modes (with ncnn's depth-stays-upper SAME_LOWER and negative SAME borders), count_include_pad,
global, adaptive (-233, pass-through), a 3-D bottom as d = 1. Max is exact (a comparison); avg to
float tolerance (ncnn divides the running sum, fast-math)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 6, 8)).astype(np.float32)      # (c, d, h, w)


def check(params, tmp_path, x=X):
    exact = "0=0" in params
    check_ncnn("Input in 0 1 x\nPooling3D p 1 1 x y " + params, {"x": x}, tmp_path,
               atol=0 if exact else 1e-6, rtol=0 if exact else 1e-6)


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("params", [
    "1=3 2=2 3=1",                                        # full mode, tail pads
    "1=2 11=3 21=2 2=2 12=1 22=3 3=1 13=0 23=1 14=0 15=2 16=0",   # per-axis kernel/stride, six pads
    "1=3 11=2 21=3 2=2 3=1 5=1",                          # valid
    "1=3 2=2 3=1 13=0 23=0 5=1 6=1",                      # valid, count the pads
    "1=3 2=2 5=2",                                        # SAME_UPPER
    "1=2 2=2 5=3",                                        # SAME_LOWER: depth pads at the end
    "1=1 11=3 21=3 2=3 5=3",                              # negative w total: ncnn crops the first column
    "1=3 11=3 21=1 2=3 12=1 22=3 5=2 6=1",                # negative d total: ncnn crops the last slice
    "1=1 2=3 5=0",                                        # windows of tail pad only: -FLT_MAX / nan
])
def test_windows_match_ncnn(kind, params, tmp_path):
    check("0=%d %s" % (kind, params), tmp_path)


@pytest.mark.parametrize("kind", [0, 1])
def test_global_pooling_gives_one_value_per_channel(kind, tmp_path):
    check("0=%d 4=1" % kind, tmp_path)


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("params", ["8=3 18=4 28=2", "8=-233 18=4 28=7", "8=-233 18=-233 28=-233"])
def test_adaptive_pooling_matches_ncnn(kind, params, tmp_path):
    check("0=%d 7=1 %s" % (kind, params), tmp_path)


@pytest.mark.parametrize("params", ["0=0 1=3 21=1 2=2 3=1 23=0", "0=1 1=3 21=1 2=2 5=2", "0=1 7=1 8=3 28=1"])
def test_three_d_bottom_pools_as_depth_one(params, tmp_path):
    check(params, tmp_path, x=X[:, 0])


def test_params_written_in_modelwriter_order():
    params = {28: 2, 18: 3, 8: 4, 7: 1, 6: 1, 5: 1, 4: 1, 16: 2, 15: 3, 14: 2, 23: 3, 13: 2, 3: 1, 22: 3, 12: 2,
              2: 1, 21: 2, 11: 3, 1: 2, 0: 1}
    l = layer("Pooling3D", "p", ["x"], ["y"], params)
    assert [pid for pid, _ in explicit_params(l)] == [0, 1, 11, 12, 22, 3, 13, 23, 14, 15, 16, 4, 5, 6, 7, 8,
                                                      18, 28]


@pytest.mark.parametrize("params,shape,message", [
    ({0: 3, 1: 2}, (3, 5, 6, 8), "unknown pooling_type 3"),
    ({0: 0, 1: 2, 5: -1}, (3, 5, 6, 8), "unknown pad_mode -1"),
    ({0: 1, 7: 1, 8: 2, 28: 0}, (3, 5, 6, 8), "adaptive output sizes must be > 0"),
    ({0: 0, 1: 2, 21: 7, 5: 1}, (3, 5, 6, 8), "along d is larger"),
    ({0: 1, 1: 1, 11: 1, 21: 3, 2: 2, 5: 3}, (3, 5, 4, 14), "negative left border"),
    ({0: 0, 1: 3, 11: 1, 21: 3, 2: 2, 5: 2}, (3, 5, 6, 8), "negative bottom border"),   # ncnn overruns
    ({0: 0, 1: 2, 3: 1}, (3, 6, 8), "3-D bottom with a depth border"),
    ({0: 0, 1: 2}, (6, 8), "expects a 4-D"),
])
def test_bad_params_raise_naming_the_layer(params, shape, message):
    l = layer("Pooling3D", "bad_p", ["x"], ["y"], params)
    with pytest.raises(NcnnlikeError, match="bad_p.*Pooling3D.*" + message):
        run_layers([l], {"x": np.zeros((2,) + shape, np.float32)})
