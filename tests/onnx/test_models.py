"""Real models through onnx2model: the written .param/.bin run in our runtime match onnxruntime on
the source ONNX (max abs diff <= 1e-4) and pip ncnn on the same files (cosine >= 0.99999)."""
import glob
import os
import time

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from helpers import DATA, MODELS, REFERENCE, ncnn_extract, ncnn_net
from ncnnlike.onnx import convert
from ncnnlike.runtime import Net

CASES = {
    "tiny": (os.path.join(REFERENCE, "tiny", "tiny.onnx"), 32),
    "efficientnet-lite0": (os.path.join(MODELS, "efficientnet-lite0.onnx"), 224),
    "pplcnet-orientation": (os.path.join(MODELS, "pplcnet-orientation.onnx"), 224),
}
N_IMAGES = 3


def images(size):
    """(N, 3, size, size) float32: BGR decode, resize, (x - 127) / 128, NCHW."""
    paths = sorted(glob.glob(os.path.join(DATA, "foolbox-imagenet20", "*.jpg")))[:N_IMAGES]
    batch = [cv2.resize(cv2.imread(p), (size, size), interpolation=cv2.INTER_LINEAR) for p in paths]
    x = (np.stack(batch).astype(np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


@pytest.fixture(scope="module", params=sorted(CASES))
def converted(request, tmp_path_factory):
    """Convert each model once: (onnx path, param, bin, input size, seconds)."""
    onnx_path, size = CASES[request.param]
    out = tmp_path_factory.mktemp(request.param)
    param, binary = str(out / "model.param"), str(out / "model.bin")
    start = time.time()
    convert(onnx_path, param, binary)
    return onnx_path, param, binary, size, time.time() - start


def io_names(onnx_path):
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    return sess, sess.get_inputs()[0].name, sess.get_outputs()[0].name


def run_ours(param, binary, name, out, x):
    net = Net()
    net.load_param(param)
    net.load_model(binary)
    return net.run({name: x}, [out])[out]


def run_pip_ncnn(param, binary, name, out, x):
    net = ncnn_net(param, binary)
    return np.stack([ncnn_extract(net, {name: sample}, [out])[out].ravel() for sample in x])


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_written_model_matches_onnxruntime_and_pip_ncnn(converted, record_property):
    onnx_path, param, binary, size, seconds = converted
    sess, name, out = io_names(onnx_path)
    x = images(size)
    want = np.concatenate([sess.run([out], {name: x[i:i + 1]})[0] for i in range(len(x))])
    ours = run_ours(param, binary, name, out, x)
    assert ours.shape == want.shape
    diff = float(np.abs(ours - want).max())
    real = run_pip_ncnn(param, binary, name, out, x)
    cos = min(cosine(real[i], ours[i]) for i in range(len(x)))
    record_property("max_abs_diff_vs_onnxruntime", diff)
    record_property("min_cosine_vs_pip_ncnn", cos)
    record_property("convert_seconds", seconds)
    print("%s: convert %.2f s, max abs diff vs onnxruntime %.3g, 1 - min cosine vs pip ncnn %.3g"
          % (os.path.basename(onnx_path), seconds, diff, 1 - cos))
    assert diff <= 1e-4
    assert cos >= 0.99999
    assert np.array_equal(ours.argmax(1), want.argmax(1))
