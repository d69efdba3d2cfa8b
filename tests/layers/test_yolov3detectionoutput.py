"""Yolov3DetectionOutput (host layer) against pip ncnn: the heads of mobilenetv2_yolov3 and
yolov4-tiny (mask as float bit patterns, anchors_scale 33.6 truncating net_w), equal confidences
through ncnn's quicksort and NMS, nothing detected, and the params pip ncnn refuses.

Boxes and scores go through expf (glibc in ncnn, numpy here): a few ulp, so rtol 1e-5.
"""
import numpy as np
import pytest
from detection_check import assert_same_detections, run_both
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(3)
V2_YOLOV3 = ("1=3 2=3.000000e-01 -23304=12,2.000000e+01,3.700000e+01,4.900000e+01,9.400000e+01,7.300000e+01,"
             "2.010000e+02,1.430000e+02,2.650000e+02,1.530000e+02,1.210000e+02,2.800000e+02,2.790000e+02 "
             "-23305=6,1077936128,1082130432,1084227584,0,1065353216,1073741824 -23306=2,3.200000e+01,1.600000e+01")
V4_TINY = ("0=80 1=3 2=3.000001e-01 -23304=12,1.000000e+01,1.400000e+01,2.300000e+01,2.700000e+01,3.700000e+01,"
           "5.800000e+01,8.100000e+01,8.200000e+01,1.350000e+02,1.690000e+02,3.440000e+02,3.190000e+02 "
           "-23305=6,1077936128,1082130432,1084227584,1065353216,1073741824,1077936128 "
           "-23306=2,3.360000e+01,1.680000e+01")


def head(num_box, num_class, h, w, rng, objectness=0.0, spread=2.0):
    x = rng.normal(0, spread, (num_box, 5 + num_class, h, w)).astype(np.float32)
    x[:, 4] += objectness
    return x.reshape(num_box * (5 + num_class), h, w)


def text(bottoms, params):
    inputs = "\n".join("Input in%d 0 1 %s" % (i, b) for i, b in enumerate(bottoms))
    return "%s\nYolov3DetectionOutput det %d 1 %s out %s" % (inputs, len(bottoms), " ".join(bottoms), params)


@pytest.mark.parametrize("params, num_class, sizes", [(V2_YOLOV3, 20, (5, 10)), (V4_TINY, 80, (7, 13))])
def test_real_model_heads(params, num_class, sizes, tmp_path):
    samples = [{"a": head(3, num_class, sizes[0], sizes[0], RNG), "b": head(3, num_class, sizes[1], sizes[1], RNG)}
               for _ in range(2)]
    ours, theirs = run_both(text(["a", "b"], params), samples, tmp_path)
    assert all(t.shape[0] > 5 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5)


def test_equal_confidences_follow_ncnn_quicksort_through_nms(tmp_path):
    """Objectness and class logits from a few values: many boxes share a confidence, and which of
    them NMS keeps depends on ncnn's quicksort order."""
    x = head(2, 3, 8, 8, RNG)
    groups = x.reshape(2, 8, 8, 8)
    groups[:, 4] = RNG.choice([0.0, 1.0, 2.0], (2, 8, 8))
    groups[:, 5:] = RNG.choice([0.5, 1.5], (2, 3, 8, 8))
    groups[:, 2:4] = 1.0                                   # large boxes: plenty of overlap
    params = "0=3 1=2 2=4.000000e-01 3=2.000000e-01 -23304=4,4.0,4.0,6.0,3.0 -23305=2,0.0,1.0 -23306=1,8.0"
    ours, theirs = run_both(text(["a"], params), [{"a": x}, {"a": x[:, ::-1].copy()}], tmp_path)
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5, ordered=True)


def test_int_biases_and_float_mask(tmp_path):
    params = "0=2 1=2 2=2.000000e-01 -23304=6,10,14,23,27,50,60 -23305=2,2.0,0.0 -23306=1,3.200000e+01"
    samples = [{"a": head(2, 2, 6, 9, RNG, 1.0)} for _ in range(2)]
    ours, theirs = run_both(text(["a"], params), samples, tmp_path)
    assert all(t.shape[0] > 0 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5)


def test_nothing_detected_gives_an_empty_top_like_ncnn(tmp_path):
    samples = [{"a": head(3, 20, 4, 4, RNG, -40.0), "b": head(3, 20, 8, 8, RNG, -40.0)}]
    ours, theirs = run_both(text(["a", "b"], V2_YOLOV3), samples, tmp_path)
    assert theirs["out"][0].shape == (0,)
    assert_same_detections(ours["out"], theirs["out"], 0, 0)


@pytest.mark.parametrize("params, message", [
    ({1: 1, 4: [10.0, 14.0], 5: [0.5], 6: [32.0]}, r"mask \(5\) \[0.5\] must index"),
    ({1: 1, 4: [10.0, 14.0], 5: [1], 6: [32.0]}, r"must index"),                     # int 1 reads as 1.4e-45
    ({1: 1, 4: [10.0, 14.0], 5: [0.0, 0.0], 6: [32.0]}, r"mask \(5\) has 2 values"),
    ({1: 1, 4: [10.0, 14.0, 3.0], 5: [0.0], 6: [32.0]}, r"biases \(4\) must hold pairs"),
    ({1: 1, 4: [10.0, 14.0], 5: [0.0], 6: [0.0]}, r"anchors_scale \(6\) must be positive"),
])
def test_params_pip_ncnn_refuses_name_the_layer(params, message):
    x = np.zeros((1, 7, 3, 3), np.float32)
    with pytest.raises(NcnnlikeError, match=r"layer det \(Yolov3DetectionOutput\): .*" + message):
        run_layers([layer("Yolov3DetectionOutput", "det", ["x"], ["out"], {0: 2, **params})], {"x": x})


def test_more_bottoms_than_anchors_scale_is_an_error():
    """ncnn reads past mask / anchors_scale there (garbage boxes): refused."""
    x = np.zeros((1, 7, 3, 3), np.float32)
    params = {0: 2, 1: 1, 4: [10.0, 14.0], 5: [0.0], 6: [32.0]}
    with pytest.raises(NcnnlikeError, match=r"2 bottoms need 2 anchors_scale and 2 mask values"):
        run_layers([layer("Yolov3DetectionOutput", "det", ["x", "y"], ["out"], params)], {"x": x, "y": x})


def test_overflowing_boxes_hoisted_quotient_and_nan_iou_like_ncnn(tmp_path):
    """exp(87) * 10 overflows but exp(87) * (10 / 32) does not: pip ncnn's build computes the latter.
    exp(120) boxes are infinite, their IoU NaN, which does not suppress in this layer's NMS."""
    samples = []
    for tw in (87.0, 120.0):
        x = np.zeros((7, 2, 2), np.float32)
        x[2:4] = tw
        x[4] = [[5, 4], [6, 3]]
        x[5] = 3
        samples.append({"a": x})
    params = "0=2 1=1 2=1.000000e-01 -23304=2,10.0,10.0 -23305=1,0.0 -23306=1,16.0"
    ours, theirs = run_both(text(["a"], params), samples, tmp_path)
    assert [t.shape for t in theirs["out"]] == [(4, 6), (4, 6)] and np.isfinite(theirs["out"][0]).all()
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5, ordered=True)
