"""YoloDetectionOutput (host layer) against pip ncnn: one and two bottoms (mobilenet_yolo's shape of
the head), thresholds, int biases, and ncnn's in-place top when nothing is detected.

pip ncnn's Softmax uses an approximate exp and reciprocal (rcp + Newton step), so scores and
boxes agree to a few ulp: rtol 1e-5; detections are compared as box sets.
"""
import numpy as np
import pytest
from detection_check import assert_close, assert_same_detections, run_both
from helpers import layer, run_layers

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(11)
BIASES = "-23304=10,1.080000e+00,1.190000e+00,3.420000e+00,4.410000e+00,6.630000e+00,1.138000e+01," \
         "9.420000e+00,5.110000e+00,1.662000e+01,1.052000e+01"   # mobilenet_yolo.param's


def head(num_box, num_class, h, w, rng, objectness=0.0):
    x = rng.normal(0, 1.5, (num_box, 5 + num_class, h, w)).astype(np.float32)
    x[:, 4] += objectness
    return x.reshape(num_box * (5 + num_class), h, w)


def text(bottoms, params):
    inputs = "\n".join("Input in%d 0 1 %s" % (i, b) for i, b in enumerate(bottoms))
    return "%s\nYoloDetectionOutput det %d 1 %s out %s" % (inputs, len(bottoms), " ".join(bottoms), params)


def test_two_bottoms_like_mobilenet_yolo(tmp_path):
    samples = [{"a": head(5, 20, 7, 7, RNG), "b": head(5, 20, 14, 14, RNG)} for _ in range(2)]
    ours, theirs = run_both(text(["a", "b"], "2=4.000000e-01 " + BIASES), samples, tmp_path)
    assert all(t.shape[0] > 3 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5)


@pytest.mark.parametrize("params", ["0=3 1=2 2=1.000000e-01 3=3.000000e-01 -23304=4,1.0,2.0,3.0,1.5",
                                    "0=3 1=2 3=6.000000e-01 -23304=4,1,2,3,2",          # int biases
                                    "0=1 1=1 2=5.000000e-01 -23304=2,2.0,2.0"])
def test_one_bottom_params(params, tmp_path):
    num_class, num_box = int(params[2]), int(params[6])
    samples = [{"a": head(num_box, num_class, 9, 6, RNG, 1.0)} for _ in range(2)]
    ours, theirs = run_both(text(["a"], params), samples, tmp_path)
    assert all(t.ndim == 2 and t.shape[0] > 0 for t in theirs["out"])
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5)


def test_extra_channels_beyond_the_groups_are_ignored(tmp_path):
    """c / num_box truncates: 2 groups of 8 channels plus one spare channel still run."""
    samples = [{"a": np.concatenate([head(2, 3, 5, 5, RNG, 1.0), RNG.normal(size=(1, 5, 5)).astype(np.float32)])}]
    ours, theirs = run_both(text(["a"], "0=3 1=2 2=2.000000e-01 -23304=4,1.0,2.0,3.0,1.5"), samples, tmp_path)
    assert_same_detections(ours["out"], theirs["out"], 1e-5, 1e-5)


def test_nothing_detected_returns_the_softmaxed_first_bottom_like_ncnn(tmp_path):
    samples = [{"a": head(2, 4, 4, 5, RNG, -30.0), "b": head(2, 4, 2, 3, RNG, -30.0)} for _ in range(2)]
    ours, theirs = run_both(text(["a", "b"], "0=4 1=2 2=5.000000e-01 -23304=4,1.0,2.0,3.0,1.5"), samples, tmp_path)
    assert theirs["out"][0].shape == (18, 4, 5)
    assert_close(ours["out"], theirs["out"], 1e-6, 1e-5)


@pytest.mark.parametrize("params, shape, message", [
    ({0: 3, 1: 2, 4: [1.0, 2.0]}, (16, 4, 4), r"biases \(4\) has 2 values"),
    ({0: 3, 1: 2, 4: [1.0, 2.0, 3.0, 4.0]}, (15, 4, 4), r"c / num_box = 5 \+ num_class = 8"),
    ({0: 3, 1: 0, 4: [1.0, 2.0]}, (16, 4, 4), r"num_box \(1\) must be > 0"),
])
def test_bad_params_or_bottoms_name_the_layer(params, shape, message):
    x = np.zeros((1,) + shape, np.float32)
    with pytest.raises(NcnnlikeError, match=r"layer det \(YoloDetectionOutput\): .*" + message):
        run_layers([layer("YoloDetectionOutput", "det", ["x"], ["out"], params)], {"x": x})


def test_overflowing_boxes_like_ncnn(tmp_path):
    """exp(88.5) * 1.5 overflows before the division by w (no hoisting in this layer), and the
    infinite boxes' NaN IoU suppresses: one detection left of four."""
    x = np.zeros((7, 2, 2), np.float32)
    x[2] = 88.5
    x[4] = [[5, 4], [6, 3]]
    x[5] = 3
    ours, theirs = run_both(text(["a"], "0=2 1=1 2=1.000000e-01 -23304=2,1.5,2.5"), [{"a": x}], tmp_path)
    assert theirs["out"][0].shape == (1, 6) and np.isinf(theirs["out"][0][0, 2])
    assert_same_detections(ours["out"], theirs["out"], 0, 0, ordered=True)
