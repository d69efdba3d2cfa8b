"""Pooling1D vs pip ncnn (the reference kernel): max/avg, the four pad modes with explicit pads,
avgpool_count_include_pad, windows that only see padding, global, adaptive, a 1-D bottom. Max is
exact (a comparison); avg to float tolerance (ncnn divides the running sum, fast-math)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 11)).astype(np.float32)      # h = 5 rows, w = 11


def check(params, tmp_path, x=X):
    exact = "0=0" in params
    check_ncnn("Input in 0 1 x\nPooling1D p 1 1 x y " + params, {"x": x}, tmp_path,
               atol=0 if exact else 1e-6, rtol=0 if exact else 1e-6)


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("params", [
    "1=3 2=2 3=1",                    # full mode: tail pad so the last window fits
    "1=3 2=2 3=1 14=0 6=1",           # full, asymmetric pads, count the pads
    "1=4 2=3 3=2 14=1 5=1",           # valid: explicit pads only
    "1=3 2=2 3=1 5=1 6=1",
    "1=4 2=3 5=2",                    # SAME_UPPER
    "1=4 2=3 5=3",                    # SAME_LOWER
    "1=4 2=3 3=1 5=2",                # SAME with a pad param: ncnn's area still skips the first column
    "1=1 2=3 5=0",                    # full mode's last window is all tail pad: -FLT_MAX / nan
    "1=11 2=1 5=1",                   # one window over the whole row
])
def test_windows_match_ncnn(kind, params, tmp_path):
    check("0=%d %s" % (kind, params), tmp_path)


@pytest.mark.parametrize("kind", [0, 1])
def test_global_pooling_gives_one_value_per_row(kind, tmp_path):
    check("0=%d 4=1" % kind, tmp_path)


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("out_w", [4, 11, 15])
def test_adaptive_pooling_matches_ncnn(kind, out_w, tmp_path):
    check("0=%d 7=1 8=%d" % (kind, out_w), tmp_path)


@pytest.mark.parametrize("params", ["0=0 1=3 2=2 3=1", "0=1 1=3 2=2 5=2", "0=1 4=1"])
def test_one_d_bottom_pools_as_one_row(params, tmp_path):
    check(params, tmp_path, x=X[0])


def test_params_written_in_modelwriter_order():
    l = layer("Pooling1D", "p", ["x"], ["y"], {8: 3, 7: 1, 6: 1, 5: 1, 4: 1, 14: 2, 3: 1, 2: 2, 1: 3, 0: 1})
    assert [pid for pid, _ in explicit_params(l)] == [0, 1, 2, 3, 14, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("params,shape,message", [
    ({0: 2, 1: 2}, (5, 11), "unknown pooling_type 2"),
    ({0: 0, 1: 2, 5: 4}, (5, 11), "unknown pad_mode 4"),
    ({0: 0, 7: 1, 8: -233}, (5, 11), "adaptive output sizes must be > 0"),    # ncnn: -100 from create
    ({0: 0, 1: 13, 5: 1}, (5, 11), "larger than the padded size"),
    ({0: 1, 1: 3, 2: 0}, (5, 11), "stride_w 0"),
    ({0: 1, 1: 3, 3: -1, 5: 1}, (5, 11), "must be >= 0 with pad_mode 1"),
    ({0: 0, 1: 2}, (2, 5, 11), "expects a 2-D"),    # ncnn would pool channel 0 only
])
def test_bad_params_raise_naming_the_layer(params, shape, message):
    l = layer("Pooling1D", "bad_p", ["x"], ["y"], params)
    with pytest.raises(NcnnlikeError, match="bad_p.*Pooling1D.*" + message):
        run_layers([l], {"x": np.zeros((2,) + shape, np.float32)})
