"""Proposal (host layer) against pip ncnn: default and small top-N params, one and two tops, equal
scores through ncnn's quicksort and NMS, min_size filtering, and the cases ncnn fails on.

Boxes go through expf (glibc in ncnn, numpy here): 1 ulp of image coordinates, so atol 1e-4 with
rtol 1e-6; scores are copied input values and rows are compared in ncnn's order.
"""
import numpy as np
import pytest
from detection_check import assert_close, run_both
from helpers import layer, run_layers
from oracle import make_model, run_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(5)


def sample(h, w, rng, im=(160.0, 224.0, 1.0), scores=None):
    return {"score": rng.uniform(0, 1, (18, h, w)).astype(np.float32) if scores is None else scores,
            "bbox": rng.normal(0, 0.3, (36, h, w)).astype(np.float32),
            "info": np.float32(im)}


def text(params, tops="rois"):
    return """
    Input in0 0 1 score
    Input in1 0 1 bbox
    Input in2 0 1 info
    Proposal prop 3 %d score bbox info %s %s
    """ % (len(tops.split()), tops, params)


@pytest.mark.parametrize("params", ["", "2=200 3=30 4=5.000000e-01 5=8", "0=8 1=8 2=-1 3=50 4=3.000000e-01 5=4"])
def test_proposals_match_ncnn_in_order(params, tmp_path):
    samples = [sample(10, 14, RNG), sample(10, 14, RNG, im=(150.0, 200.0, 0.5))]
    ours, theirs = run_both(text(params, "rois scores"), samples, tmp_path)
    assert all(t.shape[0] > 5 for t in theirs["rois"])
    assert_close(ours["rois"], theirs["rois"], 1e-4, 1e-6)
    assert_close(ours["scores"], theirs["scores"], 0, 0)


def test_equal_scores_follow_ncnn_quicksort(tmp_path):
    scores = RNG.choice(np.float32([0.2, 0.4, 0.6]), (18, 8, 8))
    ours, theirs = run_both(text("3=40 4=4.000000e-01 5=4", "rois scores"), [sample(8, 8, RNG, scores=scores)],
                            tmp_path)
    assert_close(ours["rois"], theirs["rois"], 1e-4, 1e-6)
    assert_close(ours["scores"], theirs["scores"], 0, 0)


def test_no_surviving_proposal_fails_like_ncnn(tmp_path):
    """min_size above the image: ncnn's extract fails (-100); ours raises, naming the layer."""
    lines = text("5=1000")
    param, binfile, _ = make_model(lines, tmp_path)
    feeds = {k: v[None] for k, v in sample(4, 4, RNG).items()}
    with pytest.raises(OSError, match="status -100"):
        run_ncnn(param, binfile, feeds, ["rois"])
    with pytest.raises(NcnnlikeError, match=r"layer prop \(Proposal\): no proposal survives"):
        run_layers([layer("Proposal", "prop", ["score", "bbox", "info"], ["rois"], {5: 1000})], feeds)


def test_bad_bottoms_name_the_layer():
    feeds = {k: v[None] for k, v in sample(4, 4, RNG).items()}
    feeds["bbox"] = feeds["bbox"][:, :20]
    with pytest.raises(NcnnlikeError, match=r"layer prop \(Proposal\): 9 anchors need"):
        run_layers([layer("Proposal", "prop", ["score", "bbox", "info"], ["rois"])], feeds)
