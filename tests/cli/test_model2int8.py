"""model2int8 command line: ncnn2int8's arguments, fp16= storage, one-line errors with exit 2 and no output."""
import os
import re

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.cli.model2int8 import main
from ncnnlike.graph import Graph
from ncnnlike.io.model import load_model, save_model

TINY = os.path.join(REFERENCE, "tiny")
OPT = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin")]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def outputs(tmp_path):
    return [str(tmp_path / "int8.param"), str(tmp_path / "int8.bin")]


def test_converts_tiny_with_a_real_ncnn2table_table_to_ncnn2int8s_exact_files(tmp_path, capsys):
    out = outputs(tmp_path)
    assert main(OPT + out + [os.path.join(TINY, "tiny-kl.table")]) == 0
    assert read(out[0]) == read(os.path.join(TINY, "tiny-int8.param"))
    assert read(out[1]) == read(os.path.join(TINY, "tiny-int8.bin"))
    err = capsys.readouterr().err
    assert "quantize_convolutiondepthwise convdwrelu_0\n" in err and "fuse_requantize convrelu_0 convrelu_1\n" in err


def test_without_table_nothing_is_quantized_and_floats_are_fp16_like_ncnn2int8(tmp_path, capsys):
    out = outputs(tmp_path)
    assert main(OPT + out) == 0
    # the reference of ncnn2int8 run with a table it could not read (blank line): nothing quantized
    assert read(out[0]) == read(os.path.join(TINY, "tiny-int8-mixC.param"))
    assert read(out[1]) == read(os.path.join(TINY, "tiny-int8-mixC.bin"))
    assert "warning: no table given" in capsys.readouterr().err


def test_fp16_0_keeps_the_weights_of_float_layers_fp32(tmp_path):
    out = outputs(tmp_path)
    assert main(OPT + out + [os.path.join(TINY, "tiny-kl-mixB-noact.table"), "fp16=0"]) == 0
    binary = read(out[1])
    assert binary[:4] == b"\x00\x00\x00\x00"  # convrelu_0 (float) is the first buffer: fp32 tag
    assert len(binary) == len(read(os.path.join(TINY, "tiny-int8-mixB.bin"))) + 216 * 2
    assert binary[4 + 216 * 4:] == read(os.path.join(TINY, "tiny-int8-mixB.bin"))[4 + 216 * 2:]


def table_with(tmp_path, old, new):
    text = read(os.path.join(TINY, "tiny-kl.table")).decode().replace(old, new)
    path = tmp_path / "edited.table"
    path.write_text(text)
    return str(path)


BAD_TABLES = [
    ("convrelu_1 14.832954", "convrelu_1 14.83x", r"edited\.table:7: '14\.83x' is not a number"),
    ("convrelu_1 14.832954", "convrelu_1 nan", r"edited\.table:7: 'nan' is not a number"),
    ("conv_7 15.682806", "conv_7 -15.682806", r"edited\.table:9: scale -15\.682806 must be positive"),
    ("conv_7 15.682806", "conv_7 0", r"edited\.table:9: scale 0 must be positive"),
    ("conv_7 15.682806", "conv_7 inf", r"edited\.table:9: layer conv_7 needs one finite activation scale"),
    ("conv_7_param_0 167.448029", "conv_7_param_0 inf",
     r"edited\.table:4: layer conv_7 \(Convolution\): scale inf for channel 0, whose weights are not all zero"),
    ("linear_8_param_0 196.812042 ", "linear_8_param_0 ",
     r"edited\.table:5: layer linear_8 \(InnerProduct\) needs 10 values \(one per output channel\), .* has 9"),
    ("convrelu_0 58.348942", "convrelu_0", r"edited\.table:6: key 'convrelu_0' has no values"),
    ("linear_8 29.079050", "linear_8 29.079050 1.0", r"edited\.table:10: layer linear_8 needs one finite"),
]


@pytest.mark.parametrize("old, new, message", BAD_TABLES)
def test_bad_table_is_one_line_naming_file_and_line_with_exit_2_and_no_output(tmp_path, capsys, old, new, message):
    out = outputs(tmp_path)
    assert main(OPT + out + [table_with(tmp_path, old, new)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not any(os.path.exists(p) for p in out)
    assert sorted(os.listdir(tmp_path)) == ["edited.table"]


@pytest.mark.parametrize("files, args, message", [
    (3, [], r"expected 4 or 5 file arguments, got 3"),
    (6, [], r"expected 4 or 5 file arguments, got 6"),
    (4, ["fp16=2"], r"fp16=2: expected 0"),
    (4, ["thread=2"], r"unknown option 'thread='"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, files, args, message):
    names = outputs(tmp_path) + [os.path.join(TINY, "tiny-kl.table"), str(tmp_path / "extra")]
    assert main((OPT + names)[:files] + args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err)
    assert os.listdir(tmp_path) == []


def test_int8_input_model_is_refused(tmp_path, capsys):
    int8 = [os.path.join(TINY, "tiny-int8.param"), os.path.join(TINY, "tiny-int8.bin")]
    assert main(int8 + outputs(tmp_path) + [os.path.join(TINY, "tiny-kl.table")]) == 2
    assert "is already int8" in capsys.readouterr().err and os.listdir(tmp_path) == []


def test_lstm_with_a_commented_table_line_stays_float_and_the_rest_is_quantized(tmp_path, capsys):
    """Mixed precision for RNNs: `#lstm1_param_1` keeps that LSTM float (ncnn2int8 exits with an error)."""
    weights = {"weight_xc_data": np.ones(4 * 4 * 6, np.float32), "bias_c_data": np.zeros(16, np.float32),
               "weight_hc_data": np.ones(4 * 4 * 4, np.float32)}
    graph = Graph([layer("Input", "in0", [], ["x"], {0: 6, 1: 5}),
                   layer("LSTM", "lstm1", ["x"], ["y"], {0: 4, 1: 96}, weights),
                   layer("LSTM", "lstm2", ["y"], ["z"], {0: 4, 1: 64}, {
                       "weight_xc_data": np.ones(64, np.float32), "bias_c_data": np.zeros(16, np.float32),
                       "weight_hc_data": np.ones(64, np.float32)})])
    model = tmp_path / "m"
    model.mkdir()
    save_model(graph, str(model / "m.param"), str(model / "m.bin"))
    table = model / "m.table"
    rows = "127.0 " * 16
    table.write_text("lstm1_param_0 %s\n#lstm1_param_1 %s\nlstm2_param_0 %s\nlstm2_param_1 %s\n" % ((rows,) * 4))
    out = outputs(tmp_path)
    assert main([str(model / "m.param"), str(model / "m.bin")] + out + [str(table)]) == 0
    err = capsys.readouterr().err
    assert "layer lstm1 (LSTM)" in err and "'lstm1_param_1'" in err and "stays float" in err
    result = load_model(*out)
    assert result.layer("lstm1").params.get(8, 0) == 0 and result.layer("lstm2").params[8] == 2
