"""What the importer writes so that pip ncnn computes as exactly as float32 allows (issue 12,
PP-OCRv4 rec: its pip ncnn error against onnxruntime came from 7-digit scalars in the .param and
from ncnn's packed Softmax sums, then from nothing the importer chooses)."""
import numpy as np

from ncnnlike.io.model import save_model
from ncnnlike.io.param import read_param
from ncnnlike.onnx import import_onnx
from onnxcase import check, make, node, pip_ncnn_outputs, types

# PP-OCRv4 rec's first learnable-affine scale; printf %e writes 1.384107e+00 (3.6e-7 off)
SCALES = np.array([1.3841065, 2.1794755, 0.1, 1.0 / 3.0, -7.654321e-5], np.float32)


def test_scalar_params_reach_pip_ncnn_bit_exact(tmp_path):
    nodes = [node("Mul", ["x", "s%d" % i], ["y%d" % i]) for i in range(len(SCALES))]
    inits = {"s%d" % i: np.array([s], np.float32) for i, s in enumerate(SCALES)}
    m = make(nodes, {"x": [1, 3, 4, 5]}, ["y%d" % i for i in range(len(SCALES))], inits)
    graph = import_onnx(m)
    param, binary = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binary)
    x = np.random.default_rng(3).standard_normal((1, 3, 4, 5)).astype(np.float32)
    got = pip_ncnn_outputs(param, binary, {"x": x}, ["y%d" % i for i in range(len(SCALES))])
    for i, s in enumerate(SCALES):
        np.testing.assert_array_equal(got["y%d" % i].ravel(), (x * s).ravel())
    assert [layer.params[2] for layer in read_param(param).layers[-len(SCALES):]] == [float(s) for s in SCALES]


def test_floats_that_round_trip_keep_ncnn_writer_text(tmp_path):
    m = make([node("Mul", ["x", "s"], ["y"]), node("Add", ["y", "b"], ["z"])], {"x": [1, 4]}, ["z"],
             {"s": np.array([0.5], np.float32), "b": np.array([1.3841065], np.float32)})
    param = str(tmp_path / "m.param")
    save_model(import_onnx(m), param, str(tmp_path / "m.bin"))
    text = open(param).read()
    assert "2=5.000000e-01" in text and "2=1.38410652e+00" in text


def softmax64(z):
    z = z.astype(np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_long_softmax_rows_sum_unpacked_in_pip_ncnn(tmp_path):
    """8 packed rows of 4096 with one dominant class: ncnn's packed Softmax sums each row in 1-2
    partial sums (1.6e-5 off float64 on AVX-512); on a one-channel view, 16 lanes (2e-6)."""
    z = (np.random.default_rng(0).standard_normal((1, 8, 4096)) * 2).astype(np.float32)
    z[:, :, 7] += 14
    m = make([node("Softmax", ["z"], ["p"], axis=-1)], {"z": [1, 8, 4096]}, ["p"], opset=13)
    graph = check(m, tmp_path, feeds={"z": z}, atol=1e-5)
    assert types(graph) == ["Input", "Reshape", "Softmax", "Reshape"]
    got = pip_ncnn_outputs(str(tmp_path / "m.param"), str(tmp_path / "m.bin"), {"z": z}, ["p"])["p"]
    assert np.abs(got.reshape(z.shape) - softmax64(z)).max() <= 6e-6


def test_short_softmax_rows_stay_one_layer(tmp_path):
    m = make([node("Softmax", ["z"], ["p"], axis=-1)], {"z": [1, 8, 40]}, ["p"], opset=13)
    assert types(check(m, tmp_path)) == ["Input", "Softmax"]
