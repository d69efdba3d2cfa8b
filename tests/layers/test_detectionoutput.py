"""DetectionOutput (host layer) against pip ncnn: Caffe-SSD and MXNet-SSD layouts, tied scores
(ncnn's unstable quicksort decides which of two equal-score boxes survives NMS), nms_top_k and
keep_top_k truncation, nothing detected, and bad bottoms.

Scores are input values, so they and the order of the rows match exactly; the boxes go through
expf (glibc in ncnn, numpy here): 1 ulp, hence atol 1e-6.
"""
import numpy as np
import pytest
from detection_check import assert_same_detections, run_both
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(7)
ATOL = 1e-6


def priors(n, rng):
    """(2, 4n) PriorBox-style blob: boxes clustered so that NMS has work, and variances."""
    centre = rng.uniform(0.2, 0.8, (n, 2))
    centre[n // 2:] = centre[: n - n // 2][: n - n // 2] + rng.normal(0, 0.02, (n - n // 2, 2))
    size = rng.uniform(0.1, 0.4, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    variances = np.tile([0.1, 0.1, 0.2, 0.2], (n, 1))
    return np.stack([boxes.reshape(-1), variances.reshape(-1)]).astype(np.float32)


def softmax_scores(n, num_class, rng):
    logits = rng.normal(0, 2.5, (n, num_class))
    e = np.exp(logits - logits.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def caffe_sample(n, num_class, rng, scores=None):
    return {"loc": rng.normal(0, 0.5, 4 * n).astype(np.float32),
            "conf": (softmax_scores(n, num_class, rng) if scores is None else scores).reshape(-1),
            "pb": priors(n, rng)}


def caffe_text(params):
    return """
    Input in0 0 1 loc
    Input in1 0 1 conf
    Input in2 0 1 pb
    DetectionOutput det 3 1 loc conf pb out %s
    """ % params


@pytest.mark.parametrize("params", ["0=6 1=4.500000e-01 2=100 4=2.500000e-01",        # mobilenet_ssd's
                                    "0=6 1=3.000000e-01 2=20 3=7 4=1.000000e-01",     # both top-k cut
                                    "0=4"])                                           # defaults
def test_caffe_ssd_matches_ncnn_in_order(params, tmp_path):
    samples = [caffe_sample(300, int(params[2]), RNG) for _ in range(2)]
    ours, theirs = run_both(caffe_text(params), samples, tmp_path)
    assert all(t.shape[0] > 0 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], ATOL, 1e-6, ordered=True)


def test_equal_scores_keep_ncnn_quicksort_order_through_nms(tmp_path):
    """Few distinct scores, background 0 (every prior decoded): which equal-score box NMS keeps
    depends on ncnn's quicksort; the top must match in order."""
    n, num_class = 400, 4
    scores = RNG.choice([0.3, 0.5, 0.7, 0.9], (n, num_class)).astype(np.float32)
    scores[:, 0] = 0
    samples = [caffe_sample(n, num_class, RNG, scores), caffe_sample(n, num_class, RNG, scores[::-1].copy())]
    ours, theirs = run_both(caffe_text("0=4 1=3.000000e-01 2=150 3=60 4=2.000000e-01"), samples, tmp_path)
    assert_same_detections(ours["out"], theirs["out"], ATOL, 1e-6, ordered=True)


def test_mxnet_ssd_layout_and_variance_params(tmp_path):
    n, num_class = 250, 5
    samples = []
    for _ in range(2):
        s = caffe_sample(n, num_class, RNG)
        s["conf"] = s["conf"].reshape(n, num_class).T.copy()        # (num_class, num_prior)
        s["pb"] = s["pb"][0].reshape(n, 4).copy()                    # (num_prior, 4)
        samples.append(s)
    text = caffe_text("0=-233 1=4.000000e-01 4=2.000000e-01 5=2.000000e-01 8=1.000000e-01")
    ours, theirs = run_both(text, samples, tmp_path)
    assert all(t.shape[0] > 0 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], ATOL, 1e-6, ordered=True)


def test_nothing_detected_gives_an_empty_top_like_ncnn(tmp_path):
    n = 50
    samples = [caffe_sample(n, 3, RNG), caffe_sample(n, 3, RNG)]
    for s in samples:
        s["conf"] = np.tile(np.float32([0.9, 0.05, 0.05]), n)
    ours, theirs = run_both(caffe_text("0=3 4=5.000000e-01"), samples, tmp_path)
    assert [t.shape for t in theirs["out"]] == [(0,), (0,)]
    assert_same_detections(ours["out"], theirs["out"], 0, 0)


def test_mixed_samples_come_back_ragged(tmp_path):
    """One sample detects, the other does not: per-sample tops of different shapes."""
    n = 60
    hit, miss = caffe_sample(n, 3, RNG), caffe_sample(n, 3, RNG)
    miss["conf"] = np.tile(np.float32([1.0, 0.0, 0.0]), n)
    ours, theirs = run_both(caffe_text("0=3 4=3.000000e-01"), [hit, miss], tmp_path)
    assert theirs["out"][0].shape[0] > 0 and theirs["out"][1].shape == (0,)
    assert_same_detections(ours["out"], theirs["out"], ATOL, 1e-6, ordered=True)


def run_det(params, shapes):
    inputs = {name: np.zeros((1,) + shape, np.float32) for name, shape in zip(("loc", "conf", "pb"), shapes)}
    return run_layers([layer("DetectionOutput", "det", list(inputs), ["out"], params)], inputs)


@pytest.mark.parametrize("params, shapes, message", [
    ({0: 3}, [(40,), (29,), (2, 40)], r"10 priors need 40 location and 30 confidence values, got 40 and 29"),
    ({0: 3}, [(40,), (30,), (40,)], r"expected 2 rows"),
    ({0: 3, 3: -1}, [(40,), (30,), (2, 40)], r"keep_top_k"),
    ({0: -1}, [(40,), (30,), (2, 40)], r"num_class \(0\) must be >= 0, or -233"),
])
def test_bad_bottoms_or_params_name_the_layer(params, shapes, message):
    with pytest.raises(NcnnlikeError, match=r"layer det \(DetectionOutput\): .*" + message):
        run_det(params, shapes)


def test_overflowing_boxes_nan_iou_suppresses_like_ncnn(tmp_path):
    """exp(0.2 * 500) boxes are infinite: their IoU is NaN, which suppresses in ncnn's NMS."""
    n = 4
    loc = np.zeros((n, 4), np.float32)
    loc[:, 2:] = 500.0
    conf = np.stack([np.zeros(n), 0.9 - 0.1 * np.arange(n)], axis=1).astype(np.float32)
    pb = np.stack([np.tile(np.float32([0.4, 0.4, 0.6, 0.6]), n), np.tile(np.float32([0.1, 0.1, 0.2, 0.2]), n)])
    sample = {"loc": loc.reshape(-1), "conf": conf.reshape(-1), "pb": pb}
    ours, theirs = run_both(caffe_text("0=2 1=4.500000e-01 4=1.000000e-01"), [sample], tmp_path)
    assert theirs["out"][0].shape == (1, 6)
    assert_same_detections(ours["out"], theirs["out"], 0, 0, ordered=True)
