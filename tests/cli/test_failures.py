"""Every failure of a console script is one printable line on stderr and exit status 2 (issue 15):
usage errors, raw bytes of a bad file, lone surrogates, long messages, Unicode digits, thread
limits, unlowerable graphs, NaN metrics in --json, exceptions nobody foresaw."""
import json
import os

import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.cli import model2int8, model2table, model_compare, model_optimize
from ncnnlike.cli.common import MAX_LINE, run_main
from ncnnlike.io.model import save_model
from oracle import make_model

TINY = os.path.join(REFERENCE, "tiny")
TINY_PAIR = [os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin")]


def one_error_line(capsys):
    """The stderr of a failed run: exactly one line, `error: ...`, printable, at most MAX_LINE."""
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    line = err[:-1]
    assert line.startswith("error: ") and line.isprintable() and len(line) <= MAX_LINE, repr(line)
    return line


def test_a_usage_error_is_one_line_with_the_usage_inside(capsys):
    assert model2table.main(TINY_PAIR[:1]) == 2
    line = one_error_line(capsys)
    assert "expected 3 or 4 file arguments, got 1" in line and "usage: model2table" in line


def test_raw_bytes_of_a_bad_file_are_escaped(tmp_path, capsys):
    """CR, ESC sequences and bytes that are not UTF-8 in a .param reach the terminal escaped."""
    bad = tmp_path / "bad.param"
    bad.write_bytes(b"7767517\n1 1\nInput\x1b[2J\xff in0 0 1 x\n")
    assert model_optimize.main([str(bad), TINY_PAIR[1], str(tmp_path / "o.param"), str(tmp_path / "o.bin"),
                                "0"]) == 2
    line = one_error_line(capsys)
    assert "\\x1b[2J" in line and "\\udcff" in line and "\x1b" not in line


def test_a_file_name_with_control_characters_and_a_lone_surrogate_is_escaped(tmp_path, capsys):
    name = str(tmp_path / "e\x1b[31m\r\udcff.param")
    assert model_optimize.main([name, TINY_PAIR[1], str(tmp_path / "o.param"), str(tmp_path / "o.bin"), "0"]) == 2
    line = one_error_line(capsys)
    assert "e\\x1b[31m\\r\\udcff.param" in line
    line.encode("utf-8")


def test_a_long_message_is_shortened_and_verbose_keeps_it(capsys):
    from ncnnlike.errors import NcnnlikeError

    def fail(argv):
        raise NcnnlikeError("start " + "x" * 1000 + " end")

    assert run_main(fail, []) == 2
    line = one_error_line(capsys)
    assert line.startswith("error: start") and line.endswith(" end") and " ... " in line
    assert run_main(fail, ["--verbose"]) == 2
    assert len(capsys.readouterr().err) > 1000


def test_an_exception_nobody_foresaw_is_still_one_line(capsys):
    def bug(argv):
        return {}["missing"]

    assert run_main(bug, []) == 2
    line = one_error_line(capsys)
    assert "internal error: KeyError" in line and "--verbose" in line
    assert run_main(bug, ["--verbose"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_numpy_warnings_are_not_printed(capsys):
    def overflow(argv):
        np.float32(3e38) * np.float32(10)
        np.log(np.zeros(1))
        return 0

    assert run_main(overflow, []) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("option", ["thread=١٥", "batch=1_0", "mean=[١٥.6,1,1]", "norm=[nan]", "thread=1.5"])
def test_unicode_digits_and_non_numbers_are_refused(tmp_path, capsys, option):
    out = str(tmp_path / "o.table")
    assert model2table.main([*TINY_PAIR, os.path.join(TINY, "calib20.txt"), out, "shape=[32,32,3]", option]) == 2
    line = one_error_line(capsys)
    assert option.split("=")[0] in line and not os.path.exists(out)


@pytest.mark.parametrize("threads", ["0", "1000", "100000"])
def test_thread_count_is_bounded_by_the_cores(tmp_path, capsys, threads):
    assert model2table.main([*TINY_PAIR, os.path.join(TINY, "calib20.txt"), str(tmp_path / "o.table"),
                             "shape=[32,32,3]", "thread=" + threads]) == 2
    line = one_error_line(capsys)
    assert "thread=%s: expected 1 to" % threads in line and "cores" in line


def test_model_optimize_fails_when_the_graph_cannot_be_lowered(tmp_path, capsys):
    """Issue 15: it used to log 'the graph cannot be lowered' and exit 0 with an unchecked file."""
    param, binfile, _ = make_model("""
        Input in 0 1 x 0=8 1=8 2=3
        Convolution c 1 1 x y 0=4 1=3 6=144
    """, tmp_path)   # 144 weights: 4 outputs x 4 channels x 3 x 3, but the input has 3 channels
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert model_optimize.main([param, binfile, *out, "0"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "shape_inference: the graph cannot be lowered" in line and "layer c" in line
    assert not any(os.path.exists(p) for p in out)


def test_model2int8_fails_when_the_graph_cannot_be_lowered(tmp_path, capsys):
    param, binfile, _ = make_model("""
        Input in 0 1 x 0=8 1=8 2=3
        Convolution c 1 1 x y 0=4 1=3 6=144
    """, tmp_path)
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert model2int8.main([param, binfile, *out]) == 2
    assert "layer c" in capsys.readouterr().err.strip().splitlines()[-1]
    assert not any(os.path.exists(p) for p in out)


def test_model_compare_json_writes_null_for_a_nan_metric(tmp_path, capsys):
    """log(-1) is nan in both models, and so is every metric of that output: --json used to fail with
    ValueError on the NaN; it now writes null."""
    graph = make_model("""
        Input in 0 1 x 0=32 1=32 2=3
        Convolution c 1 1 x y 0=4 1=3 5=1 6=108
        UnaryOp u 1 1 y z 0=8
    """, tmp_path)[2]
    conv = graph.layers[1]
    conv.weights["weight_data"] = np.zeros_like(conv.weights["weight_data"])
    conv.weights["bias_data"] = np.full_like(conv.weights["bias_data"], -1.0)
    fp = [str(tmp_path / "n.param"), str(tmp_path / "n.bin")]
    save_model(graph, *fp)
    int8 = [str(tmp_path / "n8.param"), str(tmp_path / "n8.bin")]
    table = tmp_path / "n.table"
    table.write_text("c_param_0 1.0 1.0 1.0 1.0 \nc 10.0 \n")
    assert model2int8.main([*fp, *int8, str(table)]) == 0
    out = str(tmp_path / "n.json")
    assert model_compare.main([*fp, *int8, os.path.join(TINY, "calib20.txt"), "shape=[32,32,3]", "--json", out]) == 0
    data = json.load(open(out))
    assert data["outputs"]["z"]["cosine_mean"] is None


def test_a_table_scale_that_writes_as_zero_is_refused(tmp_path, capsys):
    """%f writes 0.0000004 as 0.000000: such a scale is refused when read and never written."""
    from ncnnlike.errors import NcnnlikeError
    from ncnnlike.quant.tablefile import parse_table, write_table
    with pytest.raises(NcnnlikeError, match=r"t:2: scale 0\.0000004 is below 5e-07"):
        parse_table("a_param_0 1.0\na 0.0000004\n", "t")
    with pytest.raises(NcnnlikeError, match="below 5e-07, which the table's %f format writes as 0"):
        write_table(str(tmp_path / "o.table"), {}, {"a": np.array([4e-7], np.float32)})
    assert not (tmp_path / "o.table").exists()


def test_model2table_refuses_a_scale_its_table_would_write_as_zero(tmp_path, capsys):
    """Activations of 1e9 give 127/absmax < 5e-7, which %f used to write as 0.000000."""
    param, binfile, graph = make_model("""
        Input in 0 1 x 0=32 1=32 2=3
        Convolution c 1 1 x y 0=4 1=3 5=1 6=108
    """, tmp_path)
    graph.layers[1].weights["weight_data"] = graph.layers[1].weights["weight_data"] * np.float32(1e9)
    save_model(graph, param, binfile)
    out = str(tmp_path / "o.table")
    assert model2table.main([param, binfile, os.path.join(TINY, "calib20.txt"), out, "shape=[32,32,3]"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "table line c" in line and "writes as 0" in line and not os.path.exists(out)


def test_model2table_refuses_a_table_path_that_is_the_list_or_a_listed_image(tmp_path, capsys):
    image = tmp_path / "a.jpg"
    with open(os.path.join(TINY, "calib20.txt")) as f:
        image.write_bytes(open(os.path.normpath(os.path.join(TINY, f.readline().strip())), "rb").read())
    listfile = tmp_path / "l.txt"
    listfile.write_text(str(image) + "\n")
    for out in (listfile, image, TINY_PAIR[0]):
        before = open(out, "rb").read()
        assert model2table.main([*TINY_PAIR, str(listfile), str(out), "shape=[32,32,3]"]) == 2
        assert "is the input" in one_error_line(capsys) and open(out, "rb").read() == before


def test_model_optimize_checks_a_detection_layer_against_its_bottoms(tmp_path, capsys):
    """yolov4-tiny with num_class=64 on 255-channel heads: shape_inference stops at the host layer,
    so the layer runs once on zeros of its bottoms' shapes; ncnn's extract fails on this file."""
    from ncnnlike.io.param import read_param
    from ncnnlike.io.random_weights import fill_random
    graph = read_param(os.path.join(REFERENCE, "ncnn-benchmark", "yolov4-tiny.param"))
    for layer in graph.layers:
        if layer.type == "Input":
            layer.params.update({0: 160, 1: 160, 2: 3})
        if layer.type == "Yolov3DetectionOutput":
            layer.params[0] = 64
    fill_random(graph, 0)
    src = [str(tmp_path / "y.param"), str(tmp_path / "y.bin")]
    save_model(graph, *src)
    out = [str(tmp_path / "o.param"), str(tmp_path / "o.bin")]
    assert model_optimize.main([*src, *out, "0"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "layer detection_out (Yolov3DetectionOutput)" in line and "5 + num_class = 69" in line
    assert not any(os.path.exists(p) for p in out)


def test_a_missing_list_argument_never_overwrites_the_list_file(tmp_path, capsys):
    """`model2table m.param m.bin list.txt` (the table forgotten) must not turn list.txt into a table."""
    listing = tmp_path / "list.txt"
    listing.write_text("a.jpg\nb.jpg\n")
    assert model2table.main(TINY_PAIR + [str(listing)]) == 2
    assert "is not a quantization table: refusing to replace it" in one_error_line(capsys)
    assert listing.read_text() == "a.jpg\nb.jpg\n"
    table = tmp_path / "old.table"                  # an existing table is replaced as asked
    table.write_text("conv_param_0 1.5\n")
    assert model2table.main(TINY_PAIR + [str(table)]) == 0
    assert table.read_text() != "conv_param_0 1.5\n"


def test_a_table_given_as_the_output_param_is_not_destroyed(tmp_path, capsys):
    """model2int8 in.param in.bin model.table out.bin: the table in out.param's place stays."""
    table = tmp_path / "model.table"
    table.write_text("conv_param_0 1.5\n")
    assert model2int8.main(TINY_PAIR + [str(table), str(tmp_path / "o.bin")]) == 2
    assert "is not an ncnn .param file" in one_error_line(capsys)
    assert table.read_text() == "conv_param_0 1.5\n" and not (tmp_path / "o.bin").exists()
    old = tmp_path / "old.param"                    # an earlier .param is replaced as asked
    old.write_text("7767517\n1 1\nInput in0 0 1 in0\n")
    assert model_optimize.main(TINY_PAIR + [str(old), str(tmp_path / "o.bin"), "0"]) == 0
    assert old.read_text() != "7767517\n1 1\nInput in0 0 1 in0\n"


def test_a_binary_first_line_is_quoted_short_even_with_verbose(tmp_path, capsys):
    bad = tmp_path / "x.param"
    bad.write_bytes(bytes(range(14, 256)) * 8)    # no line break: one long binary "first line"
    assert model_optimize.main(["--verbose", str(bad), TINY_PAIR[1], str(tmp_path / "o.param"),
                                str(tmp_path / "o.bin"), "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and len(err) <= MAX_LINE and "..." in err


def test_a_table_given_as_the_output_bin_or_a_report_is_not_destroyed(tmp_path, capsys):
    """A text file in out.bin's place, or in --json / --plot's, is refused; earlier outputs of the
    same kind are replaced as asked."""
    table = tmp_path / "model.table"
    table.write_text("conv_param_0 1.5\n")
    assert model2int8.main(TINY_PAIR + [str(tmp_path / "o.param"), str(table)]) == 2
    assert "is not an ncnn .bin file" in one_error_line(capsys)
    assert table.read_text() == "conv_param_0 1.5\n" and not (tmp_path / "o.param").exists()
    int8 = [str(tmp_path / "i.param"), str(tmp_path / "i.bin")]
    assert model2int8.main(TINY_PAIR + int8) == 0
    assert model2int8.main(TINY_PAIR + int8) == 0          # its own .bin is replaced
    listing = tmp_path / "list.txt"
    np.save(tmp_path / "x.npy", np.zeros((3, 32, 32), np.float32))
    listing.write_text("x.npy\n")
    for flag in ("--json", "--plot"):
        capsys.readouterr()
        assert model_compare.main(TINY_PAIR + int8 + [str(listing), flag, str(table), "type=1"]) == 2
        assert "refusing to replace it" in one_error_line(capsys)
        assert table.read_text() == "conv_param_0 1.5\n"


def test_a_fifo_given_as_an_input_is_refused_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert model2int8.main(TINY_PAIR + [str(tmp_path / "o.param"), str(tmp_path / "o.bin"), str(fifo)]) == 2
    assert "is a FIFO, not a regular file" in one_error_line(capsys)
    assert not (tmp_path / "o.param").exists()
