"""PriorBox (a constant at lowering time) against pip ncnn: the params of ncnn's SSD benchmark models
bit for bit, steps, offset, flip, clip, variances, explicit image size, the mmdetection flags,
MXNet style, int arrays, rank-2 and rank-4 feature blobs, and refused params.

pip ncnn's build computes some aspect-ratio boxes with rsqrtps / rcpps plus a Newton step (see
priorbox.py): exact for the benchmark models' ratios, within 2 ulp (atol 3e-7 on [0, 1] boxes) for
others.
"""
import numpy as np
import pytest
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.param import read_param
from ncnnlike.runtime import Net

IMAGE = np.zeros((3, 300, 300), np.float32)
SSD = "Input in0 0 1 f\nInput in1 0 1 img\nPriorBox pb 2 1 f img out %s"
ULP = dict(atol=3e-7, rtol=0)


@pytest.mark.parametrize("params, size", [
    ("-23300=1,6.000000e+01 -23302=1,2.000000e+00 9=-233 10=-233 13=5.000000e-01", 19),       # mobilenet_ssd
    ("-23300=1,1.050000e+02 -23301=1,1.500000e+02 -23302=2,2.000000e+00,3.000000e+00 9=-233 10=-233 "
     "13=5.000000e-01", 10),
    ("-23300=1,2.100000e+01 -23301=1,4.500000e+01 -23302=1,2.000000e+00 9=-233 10=-233 11=8.000000e+00 "
     "12=8.000000e+00 13=5.000000e-01", 37),                                                    # squeezenet_ssd
    ("-23300=1,2.610000e+02 -23301=1,3.150000e+02 -23302=1,2.000000e+00 9=-233 10=-233 11=3.000000e+02 "
     "12=3.000000e+02 13=5.000000e-01", 1),
])
def test_benchmark_model_priors_are_exact(params, size, tmp_path):
    check_ncnn(SSD % params, {"f": np.zeros((4, size, size), np.float32), "img": IMAGE}, tmp_path, atol=0, rtol=0)


@pytest.mark.parametrize("params, feature, image", [
    ("-23300=2,2.1e+01,3.3e+01 -23301=2,4.5e+01,5.0e+01 -23302=2,2.0,0.3 7=0 8=1 9=-233 10=-233 13=0.3 3=0.5 6=0.7",
     (3, 7, 11), (3, 301, 223)),                                                     # no flip, clip, variances
    ("-23300=1,6.0e+01 -23302=3,2.0,3.0,0.3 8=1 9=-233 10=-233 13=0.5", (2, 3, 19, 19), (3, 300, 300)),  # 4-D
    ("-23300=1,60 -23302=1,2.0 9=-233 10=-233 13=0.5", (19, 19), (300,)),            # int array, 2-D and 1-D
    ("-23300=2,2.1e+01,3.3e+01 -23302=1,2.0 9=333 10=-233 13=0.3 14=1 15=1", (3, 7, 11), (3, 217, 5)),
    ("-23300=1,2.1e+01 -23302=1,2.0 9=333 10=217 12=9.5 13=0.3 15=1", (3, 7, 11), (1, 1, 1)),
])
def test_caffe_ssd_branches(params, feature, image, tmp_path):
    check_ncnn(SSD % params, {"f": np.zeros(feature, np.float32), "img": np.zeros(image, np.float32)}, tmp_path, **ULP)


@pytest.mark.parametrize("params", ["-23300=3,0.2,0.3,0.45 -23302=3,1.0,2.0,0.5 9=-233 10=-233 13=0.5",
                                    "-23300=2,0.2,0.7 -23302=5,1.0,2.0,0.5,3.0,0.3 8=1 9=-233 10=-233 12=0.1"])
def test_mxnet_style_one_bottom(params, tmp_path):
    outs = check_ncnn("Input in0 0 1 f\nPriorBox pb 1 1 f out %s" % params, {"f": np.zeros((3, 13, 9), np.float32)},
                      tmp_path, **ULP)
    assert outs["out"][0].ndim == 2          # (batch, 4 * w * h * num_prior): a 1-D blob


def test_image_size_left_at_zero_gives_ncnns_infinities(tmp_path):
    check_ncnn(SSD % "-23300=1,6.0e+01 13=0.5", {"f": np.zeros((1, 2, 2), np.float32), "img": IMAGE}, tmp_path,
               atol=0, rtol=0)


@pytest.mark.parametrize("params, bottoms, message", [
    ("-23302=1,2.0 9=-233 10=-233", "f img", r"min_sizes \(param 0\) is empty"),
    ("-23300=2,3.0,4.0 -23301=1,5.0 9=-233 10=-233", "f img", r"max_sizes \(param 1\) has 1 values, min_sizes 2"),
    ("-23300=1,0.3 9=-233 10=-233", "f", r"needs min_sizes \(param 0\) and aspect_ratios \(param 2\)"),
    ("-23300=1,3.0 -23301=1,5.0 9=-233 10=-233", "f", r"second bottom, which is missing"),
])
def test_refused_params_name_the_layer(params, bottoms, message, tmp_path):
    inputs = "Input in0 0 1 f\nInput in1 0 1 img\n"
    path = tmp_path / "pb.param"
    path.write_text("7767517\n3 3\n%sPriorBox pb %d 1 %s out %s\n" % (inputs, len(bottoms.split()), bottoms, params))
    net = Net.from_graph(read_param(str(path)))
    with pytest.raises(NcnnlikeError, match=r"layer pb \(PriorBox\): .*" + message):
        net.run({"f": np.zeros((1, 1, 2, 2), np.float32), "img": np.zeros((1, 1, 8, 8), np.float32)}, ["out"])
