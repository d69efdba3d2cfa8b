"""onnx2model command line: success writes a loadable pair; bad input is one stderr line, exit 2,
no traceback and no output files."""
import os
import subprocess
import sys

import onnx
import pytest
from onnx import TensorProto, helper

from helpers import REFERENCE
from ncnnlike.cli.onnx2model import main
from ncnnlike.io.model import load_model

TINY = os.path.join(REFERENCE, "tiny", "tiny.onnx")


def outputs(tmp_path):
    return str(tmp_path / "out.param"), str(tmp_path / "out.bin")


def assert_clean_failure(code, capsys, tmp_path, fragment):
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []       # no output, no temporary left behind


def test_success_writes_param_and_bin_that_load(tmp_path, capsys):
    param, binary = outputs(tmp_path)
    assert main([TINY, param, binary]) == 0
    graph = load_model(param, binary)
    assert [l.type for l in graph.layers] == ["Input", "Convolution", "BatchNorm", "ReLU", "Convolution", "ReLU",
                                              "ConvolutionDepthWise", "ReLU", "Convolution", "Pooling", "Pooling",
                                              "InnerProduct"]
    assert graph.input_names() == ["in0"] and graph.output_names() == ["out0"]
    assert os.path.getsize(binary) > 0
    assert "12 layers" in capsys.readouterr().err


def test_unsupported_op_exits_2_with_one_line(tmp_path, capsys):
    g = helper.make_graph([helper.make_node("NonZero", ["x"], ["y"], name="nz")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    src = tmp_path / "src"
    src.mkdir()
    path = str(src / "bad.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)
    out = tmp_path / "out"
    out.mkdir()
    code = main([path, *outputs(out)])
    assert_clean_failure(code, capsys, out, "node 'nz' (NonZero): unsupported ONNX op")


def test_missing_file_exits_2(tmp_path, capsys):
    code = main([str(tmp_path / "nope.onnx"), *outputs(tmp_path)])
    assert_clean_failure(code, capsys, tmp_path, "nope.onnx: no such file")


@pytest.mark.parametrize("content", [b"7767517\n1 1\nInput in0 0 1 in0\n", b"", bytes(range(256)) * 4])
def test_not_an_onnx_file_exits_2(tmp_path, capsys, content):
    src = tmp_path / "src"
    src.mkdir()
    path = src / "model.onnx"
    path.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    code = main([str(path), *outputs(out)])
    assert_clean_failure(code, capsys, out, "model.onnx: not")


def test_wrong_argument_count_exits_2(tmp_path, capsys):
    code = main([TINY, str(tmp_path / "out.param")])
    assert_clean_failure(code, capsys, tmp_path, "usage: onnx2model model.onnx out.param out.bin")


def test_console_script_failure_has_no_traceback(tmp_path):
    """The real process: exit status 2 and a single stderr line."""
    proc = subprocess.run([sys.executable, "-m", "ncnnlike.cli.onnx2model", str(tmp_path / "x.onnx"),
                           *outputs(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert os.listdir(tmp_path) == []


def dynamic_model(path):
    """Relu on an input whose H and W are dynamic (as paddle2onnx and dynamic-axes exports write)."""
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return str(path)


def test_shape_option_pins_dynamic_input_dims(tmp_path, capsys):
    src = dynamic_model(tmp_path / "dyn.onnx")
    out = tmp_path / "out"
    out.mkdir()
    param, binary = outputs(out)
    assert main([src, param, binary, "shape=[1,3,48,320]"]) == 0
    graph = load_model(param, binary)
    assert graph.layers[0].params == {0: 320, 1: 48, 2: 3}


@pytest.mark.parametrize("option, fragment", [
    ("shape=[1,3,48]", "has 3 dims, the input has 4"),
    ("shape=1,3,48,320", "expected bracketed lists"),
    ("shape=[1,3,x,320]", "sizes must be integers"),
    ("shape=[1,3,48,320],[1,4]", "gives 2 shapes for 1 graph inputs"),
    ("shapes=[1,3,48,320]", "unknown option 'shapes='"),
])
def test_bad_shape_option_is_one_line(tmp_path, capsys, option, fragment):
    src = dynamic_model(tmp_path.parent / ("dyn_%s.onnx" % tmp_path.name))
    assert_clean_failure(main([src, *outputs(tmp_path), option]), capsys, tmp_path, fragment)


def test_dynamic_dims_without_shape_option_say_how(tmp_path, capsys):
    src = dynamic_model(tmp_path.parent / ("dyn_%s.onnx" % tmp_path.name))
    assert_clean_failure(main([src, *outputs(tmp_path)]), capsys, tmp_path, "give its shape with shape=[...]")
