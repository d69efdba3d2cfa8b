"""Table file: ncnn's byte format on write, our comment/blank/tab/inf semantics on read (spec 5.9)."""
import os

import numpy as np
import pytest

from helpers import REFERENCE
from ncnnlike.errors import NcnnlikeError
from ncnnlike.quant.tablefile import format_line, parse_table, read_table, write_table

TINY_KL = os.path.join(REFERENCE, "tiny", "tiny-kl.table")
LITE0_KL = os.path.join(REFERENCE, "lite0", "lite0-png-kl.table")


def test_rewriting_ncnn2table_output_reproduces_it_byte_for_byte(tmp_path):
    table = read_table(TINY_KL)
    out = tmp_path / "t.table"
    write_table(str(out), {k: v.values for k, v in table.weights.items()},
                {k: v.values for k, v in table.blobs.items()})
    assert out.read_bytes() == open(TINY_KL, "rb").read()


def test_reader_splits_weight_and_blob_lines_in_file_order_with_line_numbers():
    table = read_table(TINY_KL)
    assert list(table.weights) == ["convrelu_0_param_0", "convrelu_1_param_0", "convdwrelu_0_param_0",
                                   "conv_7_param_0", "linear_8_param_0"]
    assert list(table.blobs) == ["convrelu_0", "convrelu_1", "convdwrelu_0", "conv_7", "linear_8"]
    assert [line.line for line in table.blobs.values()] == [6, 7, 8, 9, 10]
    assert table.weights["convrelu_1_param_0"].values.size == 16
    assert table.weights["convrelu_0_param_0"].values[0] == np.float32(77.805656)
    assert table.blobs["convrelu_0"].values.tolist() == [np.float32(58.348942)]


def test_line_format_is_percent_f_with_trailing_space():
    assert format_line("conv1_param_0", [485.706207, 0.00127, 3]) == "conv1_param_0 485.706207 0.001270 3.000000 \n"


def test_comments_blank_lines_and_tabs_are_accepted():
    text = ("# header comment\n\nconv1_param_0\t1.5  2.5 # trailing\n   \n#conv2_param_0 7\n"
            "conv1 3.25\n\tconv2 4 \n")
    table = parse_table(text, "x.table")
    assert list(table.weights) == ["conv1_param_0"]
    assert table.weights["conv1_param_0"].values.tolist() == [1.5, 2.5]
    assert list(table.blobs) == ["conv1", "conv2"]
    assert table.blobs["conv2"].line == 7


def test_old_format_without_trailing_space_is_read():
    table = parse_table("conv1_param_0 1.0 2.0\nconv1 5.5\n")
    assert table.blobs["conv1"].values.tolist() == [5.5]


def test_inf_is_accepted_and_flagged_as_in_ncnn2table_lite0_output():
    table = read_table(LITE0_KL)
    flagged = [key for key, line in table.weights.items() if line.has_inf]
    with open(LITE0_KL) as f:
        expected = [line.split()[0] for line in f if " inf " in line]
    assert flagged == expected and len(flagged) == 5
    assert not any(line.has_inf for line in table.blobs.values())


@pytest.mark.parametrize("text, message", [
    ("conv1_param_0 1.0 abc\n", "x.table:1: 'abc' is not a number"),
    ("conv1 1.0\nconv1 nan\n", "x.table:2: 'nan' is not a number"),
    ("\n\nconv1 -2.0\n", "x.table:3: scale -2.0 must be positive"),
    ("conv1 0\n", "x.table:1: scale 0 must be positive"),
    ("conv1 1_000\n", "x.table:1: '1_000' is not a number"),
    ("conv1\n", "x.table:1: key 'conv1' has no values"),
    ("conv1 1\nconv1 2\n", "x.table:2: key 'conv1' repeats line 1"),
])
def test_malformed_lines_raise_errors_naming_file_and_line(text, message):
    with pytest.raises(NcnnlikeError) as e:
        parse_table(text, "x.table")
    assert str(e.value) == message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(NcnnlikeError, match="cannot read table .*nope.table"):
        read_table(str(tmp_path / "nope.table"))


def test_writer_refuses_non_finite_values_and_leaves_no_partial_file(tmp_path):
    out = tmp_path / "t.table"
    out.write_text("old content\n")
    with pytest.raises(NcnnlikeError, match="conv2 has a value that is not a finite positive number"):
        write_table(str(out), {"conv1_param_0": [1.0]}, {"conv1": [2.0], "conv2": [np.inf]})
    assert out.read_text() == "old content\n"
    assert os.listdir(tmp_path) == ["t.table"]


def test_writer_orders_weight_blob_then_static_lines(tmp_path):
    out = tmp_path / "t.table"
    write_table(str(out), {"c_param_0": np.float32([1, 2])}, {"c": [3]}, {"e_param_0": [4]})
    assert out.read_text() == "c_param_0 1.000000 2.000000 \nc 3.000000 \ne_param_0 4.000000 \n"
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask     # like a plain open(), not mkstemp's 0600
