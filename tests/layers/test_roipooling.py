"""ROIPooling (host layer) against pip ncnn, exactly: rois inside and across the blob's edges, half
values rounding away from zero, spatial_scale, empty bins, the roi as Proposal's (n, 1, 4) blob, bad
params.

Roi sizes are odd and pooled sizes powers of two so that no bin edge is a whole number: there pip
ncnn's approximate reciprocal can move an edge by one (roipooling.py), which is pinned separately.
"""
import numpy as np
import pytest
from detection_check import assert_close, run_both
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(2)
FEATURE = RNG.normal(size=(4, 12, 16)).astype(np.float32)
TEXT = "Input in0 0 1 f\nInput in1 0 1 r\nROIPooling pool 2 1 f r out %s"
ROIS = [[2.3, 1.7, 9.6, 8.2],            # 9 x 7
        [-3.0, 4.5, 19.4, 14.6],         # 23 x 11, past the left, bottom and right edges (4.5 -> 5)
        [5.5, 0.5, 5.5, 2.5],            # 1 x 3: 5.5 -> 6, 0.5 -> 1, 2.5 -> 3
        [9.0, 7.0, 3.0, 2.0],            # x2 < x1: size 1
        [30.0, 20.0, 40.0, 30.0]]        # outside: every bin empty -> 0


@pytest.mark.parametrize("params", ["0=2 1=4", "0=4 1=2", "0=1 1=1"])
def test_rois_match_ncnn_exactly(params, tmp_path):
    samples = [{"f": FEATURE, "r": np.float32(r)} for r in ROIS]
    ours, theirs = run_both(TEXT % params, samples, tmp_path)
    assert_close(ours["out"], theirs["out"], 0, 0)


def test_spatial_scale_and_proposal_shaped_roi(tmp_path):
    """Rois scaled by 0.5 (9.5 -> 10, -3.5 -> -4; odd sizes 9 x 9 and 25 x 7), given as (n, 1, 4):
    the first one is used."""
    rois = [np.float32([[[4.6, 2.2, 19.0, 17.2]], [[0, 0, 1, 1]]]),
            np.float32([[[-7.0, 9.0, 40.0, 21.2]], [[5, 5, 6, 6]]])]
    ours, theirs = run_both(TEXT % "0=4 1=2 2=5.000000e-01", [{"f": FEATURE, "r": r} for r in rois], tmp_path)
    assert_close(ours["out"], theirs["out"], 0, 0)


def test_whole_number_bin_edges_are_where_pip_ncnn_differs(tmp_path):
    """pooled 2, roi 12 rows: the exact edge is row 6; pip ncnn's x86 build (approximate reciprocal)
    puts it at 5 on some CPUs. Ours follows roipooling.cpp exactly: row 6."""
    feature = np.arange(40, dtype=np.float32).reshape(1, 40, 1)
    out = run_layers([layer("ROIPooling", "pool", ["f", "r"], ["out"], {0: 1, 1: 2})],
                     {"f": feature[None], "r": np.float32([[0, 0, 0, 11]])})["out"][0]
    assert out[:, :, 0].tolist() == [[5.0, 11.0]]          # max of rows [0, 6) and [6, 12)


@pytest.mark.parametrize("params, roi, message", [
    ({0: 0, 1: 2}, [0, 0, 4, 4], r"pooled_width \(0\) and pooled_height \(1\) must be > 0"),
    ({0: 2, 1: 2}, [0, 0, 4], r"roi blob of shape \(3,\): needs 4 values"),
])
def test_bad_params_or_roi_name_the_layer(params, roi, message):
    with pytest.raises(NcnnlikeError, match=r"layer pool \(ROIPooling\): " + message):
        run_layers([layer("ROIPooling", "pool", ["f", "r"], ["out"], params)],
                   {"f": FEATURE[None], "r": np.float32([roi])})
