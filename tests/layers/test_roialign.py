"""ROIAlign (host layer) against pip ncnn (its x86 kernel): version 0 and 1, aligned, sampling_ratio
0 (adaptive) and fixed, spatial_scale, rois across the edges (version 0's flat reads into the next row
and channel), rois from a Proposal layer in one graph, bad params.

Bilinear weights and sums are float32 in both, in a slightly different order (x86 precomputes
w1..w4): rtol / atol 1e-5.
"""
import numpy as np
import pytest
from detection_check import assert_close, run_both
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(4)
FEATURE = RNG.normal(size=(3, 16, 20)).astype(np.float32)
TEXT = "Input in0 0 1 f\nInput in1 0 1 r\nROIAlign align 2 1 f r out %s"
TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("params", ["0=3 1=2 5=0", "0=4 1=3 3=2 5=0", "0=3 1=3 4=1 5=0",
                                    "0=3 1=2 5=1", "0=4 1=3 3=2 5=1", "0=3 1=3 4=1 5=1", "0=2 1=2 3=3 4=1 5=1"])
def test_versions_aligned_and_sampling_match_ncnn(params, tmp_path):
    """check_ncnn: a batch of two (the roi perturbed in the second), rois inside the blob."""
    check_ncnn(TEXT % params, {"f": FEATURE, "r": np.float32([4.3, 3.6, 13.2, 11.7])}, tmp_path, **TOL)


@pytest.mark.parametrize("version", [0, 1])
def test_spatial_scale_and_small_rois(version, tmp_path):
    rois = [[70.0, 40.0, 250.0, 200.0], [33.0, 90.0, 41.0, 95.0], [100.0, 100.0, 100.0, 100.0]]
    samples = [{"f": FEATURE, "r": np.float32(r)} for r in rois]
    ours, theirs = run_both(TEXT % ("0=3 1=3 2=6.250000e-02 5=%d" % version), samples, tmp_path)
    assert_close(ours["out"], theirs["out"], **TOL)


def test_version0_past_the_right_edge_reads_the_next_row_like_ncnn(tmp_path):
    """Points beyond the clipped bin index the channel flat: column w is the next row's first."""
    samples = [{"f": FEATURE, "r": np.float32([15.2, 2.1, 26.9, 12.4])}]
    ours, theirs = run_both(TEXT % "0=3 1=2 3=2 5=0", samples, tmp_path)
    assert_close(ours["out"], theirs["out"], **TOL)


def test_version0_past_the_bottom_edge_reads_the_next_channel_like_ncnn(tmp_path):
    """Past a channel's end ncnn reads the next channel (h * w = 320 needs no padding); past the
    last channel memory it does not own, so the last channel is left out of the comparison."""
    samples = [{"f": FEATURE, "r": np.float32([3.2, 9.1, 12.9, 23.4])}]
    ours, theirs = run_both(TEXT % "0=3 1=2 3=2 5=0", samples, tmp_path)
    assert_close([o[:-1] for o in ours["out"]], [t[:-1] for t in theirs["out"]], **TOL)


def test_version1_points_outside_count_as_zero(tmp_path):
    samples = [{"f": FEATURE, "r": np.float32(r)} for r in ([-6.0, -4.5, 8.0, 6.0], [12.0, 10.0, 30.0, 26.0])]
    ours, theirs = run_both(TEXT % "0=3 1=3 3=2 4=1 5=1", samples, tmp_path)
    assert_close(ours["out"], theirs["out"], **TOL)


def test_rois_from_a_proposal_layer_in_one_graph(tmp_path):
    """Proposal (host) feeding ROIAlign (host) with its (n, 1, 4) rois: the first one is pooled."""
    text = """
    Input in0 0 1 score
    Input in1 0 1 bbox
    Input in2 0 1 info
    Input in3 0 1 f
    Proposal prop 3 1 score bbox info rois 3=20 5=4
    ROIAlign align 2 1 f rois out 0=3 1=3 2=2.500000e-01 3=2 5=1
    """
    inputs = {"score": RNG.uniform(0, 1, (18, 4, 5)), "bbox": RNG.normal(0, 0.2, (36, 4, 5)),
              "info": np.float32([60.0, 76.0, 1.0]), "f": FEATURE}
    check_ncnn(text, inputs, tmp_path, **TOL)


@pytest.mark.parametrize("params, message", [({0: 2, 1: 2, 5: 2}, r"version \(5\) must be 0 or 1, got 2"),
                                             ({0: 2, 1: 0}, r"pooled_width \(0\) and pooled_height \(1\)")])
def test_bad_params_name_the_layer(params, message):
    with pytest.raises(NcnnlikeError, match=r"layer align \(ROIAlign\): " + message):
        run_layers([layer("ROIAlign", "align", ["f", "r"], ["out"], params)],
                   {"f": FEATURE[None], "r": np.float32([[0, 0, 4, 4]])})
