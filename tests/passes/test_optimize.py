"""optimize() on real models: parity with the real ncnnoptimize outputs in shared/reference, and on
the ONNX models of shared/models: same outputs, nothing fusable left, idempotent, fp16 in pip ncnn."""
import os

import numpy as np
import pytest

from helpers import MODELS, REFERENCE
from passgraphs import run
from ncnnlike.io.model import load_model, save_model
from ncnnlike.io.param import param_text
from ncnnlike.onnx import import_onnx
from ncnnlike.passes import optimize

TINY = os.path.join(REFERENCE, "tiny")
LITE0 = os.path.join(REFERENCE, "lite0")
FUSABLE = {"Convolution": {"ReLU", "Clip", "Sigmoid", "Mish", "HardSwish"},
           "ConvolutionDepthWise": {"ReLU", "Clip", "Sigmoid", "Mish", "HardSwish"},
           "InnerProduct": {"ReLU", "Clip", "Sigmoid", "Mish", "HardSwish"},
           "Deconvolution": {"ReLU", "Clip", "Sigmoid"}, "DeconvolutionDepthWise": {"ReLU", "Clip", "Sigmoid"}}


def _read(path):
    with open(path) as f:
        return f.read()


def test_pnnx_tiny_gives_ncnnoptimize_param_and_bin_exactly(tmp_path):
    g = load_model(os.path.join(TINY, "tiny.ncnn.param"), os.path.join(TINY, "tiny.ncnn.bin"))
    assert optimize(g) == []
    save_model(g, str(tmp_path / "o.param"), str(tmp_path / "o.bin"))
    assert _read(tmp_path / "o.param") == _read(os.path.join(TINY, "tiny-opt.param"))
    assert (tmp_path / "o.bin").read_bytes() == open(os.path.join(TINY, "tiny-opt.bin"), "rb").read()


def test_pnnx_lite0_gives_ncnnoptimize_param_exactly():
    g = load_model(os.path.join(LITE0, "lite0.ncnn.param"), os.path.join(LITE0, "lite0-opt.bin"))
    assert optimize(g) == []
    assert param_text(g) == _read(os.path.join(LITE0, "lite0-opt.param"))


def _summary(graph):
    return [(l.type, l.params.get(9, 0), l.params.get(10)) for l in graph.layers]


def test_tiny_onnx_with_batchnorm_and_relus_optimizes_like_ncnnoptimize():
    g = import_onnx(os.path.join(TINY, "tiny.onnx"))
    rewrites = optimize(g)
    assert rewrites[0] == "fuse_convolution_batchnorm conv1 bn1" and len(rewrites) == 4
    reference = load_model(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"))
    assert _summary(g) == _summary(reference)
    assert [l.shape_hints[0] for l in g.layers][-1] == (1, 10, 1, 1, 1)
    data = np.load(os.path.join(TINY, "outputs.npz"))
    got = run(g, {"in0": data["inputs"]}, ["out0"])["out0"]
    np.testing.assert_allclose(got, data["fp32"], atol=1e-4)   # pip ncnn on ncnnoptimize's file


def _leftovers(graph):
    """BatchNorms, and activations whose producer could have absorbed them."""
    producers = {t: l for l in graph.layers for t in l.tops}
    out = [l.name for l in graph.layers if l.type == "BatchNorm"]
    for layer in graph.layers:
        host = producers.get(layer.bottoms[0]) if layer.bottoms else None
        if host is not None and layer.type in FUSABLE.get(host.type, ()):
            out.append(layer.name)
    return out


def _pip_ncnn(param, binary, inp, out, x):
    import ncnn
    net = ncnn.Net()
    net.opt.num_threads = 2
    net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
    assert net.load_param(param) == 0 and net.load_model(binary) == 0
    results = []
    for sample in x:
        keep = np.ascontiguousarray(sample)   # ncnn.Mat does not copy
        ex = net.create_extractor()
        ex.input(inp, ncnn.Mat(keep))
        ret, mat = ex.extract(out)
        assert ret == 0
        results.append(np.array(mat).reshape(-1))
    return np.array(results)


@pytest.mark.parametrize("model", ["efficientnet-lite0", "pplcnet-orientation"])
def test_onnx_model_optimizes_with_same_outputs_idempotently_and_runs_fp16_in_pip_ncnn(tmp_path, model):
    before = import_onnx(os.path.join(MODELS, model + ".onnx"))
    g = before.copy()
    rewrites = optimize(g)
    assert rewrites and len(g.layers) < len(before.layers)
    assert _leftovers(before) and not _leftovers(g)
    assert optimize(g) == []
    inp, out = before.input_names()[0], before.output_names()[0]
    assert g.output_names() == [out]
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    want, got = run(before, {inp: x})[out], run(g, {inp: x})[out]
    np.testing.assert_allclose(got, want, atol=1e-4)
    fp32, fp16 = [str(tmp_path / n) for n in ("fp32", "fp16")]
    save_model(g, fp32 + ".param", fp32 + ".bin")
    save_model(g, fp16 + ".param", fp16 + ".bin", fp16=True)
    a = _pip_ncnn(fp32 + ".param", fp32 + ".bin", inp, out, x)
    b = _pip_ncnn(fp16 + ".param", fp16 + ".bin", inp, out, x)
    np.testing.assert_allclose(a, got.reshape(a.shape), atol=1e-4)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() >= 0.9999
