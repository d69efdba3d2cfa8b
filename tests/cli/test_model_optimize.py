"""model-optimize CLI: ncnnoptimize's arguments, fp16 storage, cut, log lines, clean failures."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, ncnn_extract, ncnn_net
from ncnnlike.cli.model_optimize import main
from ncnnlike.io.model import load_model, save_model
from ncnnlike.onnx import import_onnx

TINY = os.path.join(REFERENCE, "tiny")
TINY_PARAM, TINY_BIN = os.path.join(TINY, "tiny.ncnn.param"), os.path.join(TINY, "tiny.ncnn.bin")
FP16_TAG = bytes.fromhex("476b3001")


def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def _pip_ncnn_logits(param, binary):
    data = np.load(os.path.join(TINY, "outputs.npz"))
    net = ncnn_net(param, binary)
    return np.array([ncnn_extract(net, {"in0": x}, ["out0"])["out0"] for x in data["inputs"]])


def test_tiny_gives_ncnnoptimize_files_byte_for_byte(tmp_path, capsys):
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert main([TINY_PARAM, TINY_BIN, *out, "0"]) == 0
    assert _read(out[0]) == _read(os.path.join(TINY, "tiny-opt.param"))
    assert _read(out[1], "rb") == _read(os.path.join(TINY, "tiny-opt.bin"), "rb")
    assert "Input layer in0 without shape info, shape_inference skipped" in capsys.readouterr().err


def test_fp16_flags_store_tagged_weights_as_fp16_and_pip_ncnn_agrees(tmp_path):
    paths = {}
    for flag in ("0", "1", "65536", "7"):
        paths[flag] = [str(tmp_path / ("f%s.param" % flag)), str(tmp_path / ("f%s.bin" % flag))]
        assert main([TINY_PARAM, TINY_BIN, *paths[flag], flag]) == 0
    fp16 = _read(paths["65536"][1], "rb")
    assert _read(paths["1"][1], "rb") == fp16 and FP16_TAG in fp16
    assert _read(paths["7"][1], "rb") == _read(paths["0"][1], "rb") and FP16_TAG not in _read(paths["0"][1], "rb")
    a, b = _pip_ncnn_logits(*paths["0"]), _pip_ncnn_logits(*paths["65536"])
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() >= 0.9999
    back = [str(tmp_path / "back.param"), str(tmp_path / "back.bin")]
    assert main([*paths["65536"], *back, "0"]) == 0        # flag 0 widens fp16 weights again
    assert os.path.getsize(back[1]) == os.path.getsize(paths["0"][1])


def test_fusions_are_logged_one_line_each(tmp_path, capsys):
    src = [str(tmp_path / "in.param"), str(tmp_path / "in.bin")]
    save_model(import_onnx(os.path.join(TINY, "tiny.onnx")), *src)
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert main([*src, *out, "0"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[:4] == ["fuse_convolution_batchnorm conv1 bn1", "fuse_convolution_activation conv1 relu1",
                       "fuse_convolution_activation conv2 relu2",
                       "fuse_convolutiondepthwise_activation conv3_dw relu3"]
    assert [l.type for l in load_model(*out).layers].count("BatchNorm") == 0


def test_cutstart_cutend_keep_a_loadable_range(tmp_path):
    out = [str(tmp_path / "c.param"), str(tmp_path / "c.bin")]
    assert main([TINY_PARAM, TINY_BIN, *out, "0", "convrelu_1", "conv_7"]) == 0
    lines = _read(out[0]).splitlines()
    assert lines[1] == "4 4" and [l.split()[1] for l in lines[2:]] == ["1", "convrelu_1", "convdwrelu_0", "conv_7"]
    assert len(load_model(*out).layers) == 4


INT8 = [os.path.join(TINY, "tiny-int8.param"), os.path.join(TINY, "tiny-int8.bin")]


@pytest.mark.parametrize("args, message", [
    ([os.path.join(TINY, "missing.param"), TINY_BIN, "0"], "missing.param"),
    ([TINY_PARAM, os.path.join(TINY, "missing.bin"), "0"], "missing.bin"),
    ([*INT8, "0"], "int8"),
    ([TINY_PARAM, TINY_BIN, "fp16"], "flag 'fp16'"),
    ([TINY_PARAM, TINY_BIN, "0", "nolayer"], "cutstart: no layer named 'nolayer'"),
    ([TINY_PARAM, TINY_BIN, "0", "convrelu_1", "nolayer"], "cutend: no layer named 'nolayer'"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, capsys, args, message):
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert main(args[:2] + out + args[2:]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert os.listdir(tmp_path) == []


def test_wrong_argument_count_is_a_usage_error(capsys):
    assert main(["a.param", "a.bin"]) == 2
    assert "usage: model-optimize" in capsys.readouterr().err
