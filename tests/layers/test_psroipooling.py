"""PSROIPooling (host layer) against pip ncnn: default params (7 x 7, 1/16), power-of-two bins with
spatial_scale 1 and 0.5, rois across the edges and outside (empty bins), bad channel counts.

The window sums run in ncnn's order; the division by the area may be a multiplication in ncnn's
-ffast-math build: rtol 1e-6. Rois are chosen so that no bin edge is a whole number (where pip
ncnn's approximate reciprocal of the pooled size can move an edge, see roipooling.py).
"""
import numpy as np
import pytest
from detection_check import assert_close, run_both
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(6)
TEXT = "Input in0 0 1 f\nInput in1 0 1 r\nPSROIPooling ps 2 1 f r out %s"


def test_default_params_like_rfcn(tmp_path):
    """7 x 7 bins at 1/16: roi 111 x 108 pixels from (40, 23), neither a multiple of 7."""
    feature = RNG.normal(size=(2 * 49, 10, 12)).astype(np.float32)
    samples = [{"f": feature, "r": np.float32([40.2, 22.7, 149.6, 129.8])},
               {"f": feature, "r": np.float32([-20.0, 60.0, 90.4, 200.0])}]
    ours, theirs = run_both(TEXT % "3=2", samples, tmp_path)
    assert_close(ours["out"], theirs["out"], 1e-6, 1e-6)


@pytest.mark.parametrize("params", ["0=4 1=2 2=1.000000e+00 3=3", "0=2 1=4 2=5.000000e-01 3=3"])
def test_power_of_two_bins(params, tmp_path):
    feature = RNG.normal(size=(3 * 8, 12, 16)).astype(np.float32)
    rois = [[2.4, 1.6, 10.2, 7.7],          # 9 x 7 pixels (round(x2 + 1) - round(x1))
            [3.0, 5.0, 19.0, 14.0],         # past the right and bottom edges
            [-5.0, -3.0, 5.0, 5.0],         # past the left and top edges
            [30.0, 30.0, 40.0, 40.0]]       # outside: every bin empty -> 0
    samples = [{"f": feature, "r": np.float32(r)} for r in rois]
    ours, theirs = run_both(TEXT % params, samples, tmp_path)
    assert_close(ours["out"], theirs["out"], 1e-6, 1e-6)


@pytest.mark.parametrize("params, channels, message", [
    ({0: 2, 1: 2, 3: 3}, 11, r"feature has 11 channels, output_dim \* pooled_h \* pooled_w = 12"),
    ({0: 2, 1: 2}, 12, r"pooled_width \(0\), pooled_height \(1\) and output_dim \(3\) must be > 0"),
])
def test_bad_params_name_the_layer(params, channels, message):
    with pytest.raises(NcnnlikeError, match=r"layer ps \(PSROIPooling\): " + message):
        run_layers([layer("PSROIPooling", "ps", ["f", "r"], ["out"], params)],
                   {"f": np.zeros((1, channels, 4, 4), np.float32), "r": np.float32([[0, 0, 2, 2]])})
