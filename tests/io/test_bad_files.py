"""Bad .param/.bin files give one NcnnlikeError naming file and line (spec 1.1, 1.2, 2); failed
writes leave no file behind."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning
from ncnnlike.graph import Graph
from ncnnlike.io.bin import read_bin, write_bin
from ncnnlike.io.model import load_model, save_model
from ncnnlike.io.param import read_param, write_param

HEAD = "7767517\n2 2\nInput in 0 1 x\n"
CONV = "Convolution c 1 1 x y 0=4 1=3 6=108"


def param_error(tmp_path, text, line, *words):
    """Write `text`, read it, and check the error names the file, the line and the words."""
    path = tmp_path / "bad.param"
    path.write_bytes(text.encode())
    with pytest.raises(NcnnlikeError) as info:
        read_param(str(path))
    message = str(info.value)
    assert message.startswith("%s:%d: " % (path, line)), message
    for word in words:
        assert word in message, message
    return message


def test_missing_file_is_named(tmp_path):
    path = str(tmp_path / "none.param")
    with pytest.raises(NcnnlikeError, match="none.param: cannot read"):
        read_param(path)


def test_empty_file(tmp_path):
    param_error(tmp_path, "", 1, "empty file", "7767517")
    param_error(tmp_path, "\n  \n", 1, "empty file")


def test_wrong_magic(tmp_path):
    param_error(tmp_path, "7767518\n1 1\nInput in 0 1 x\n", 1, "magic number 7767517", "7767518")


@pytest.mark.parametrize("counts", ["0 1", "1 0", "8", "a 2", "-1 1", "1 2 3"])
def test_counts_must_be_two_positive_integers(tmp_path, counts):
    param_error(tmp_path, "7767517\n%s\nInput in 0 1 x\n" % counts, 2, "layer_count blob_count")


def test_fewer_layer_lines_than_layer_count(tmp_path):
    param_error(tmp_path, "7767517\n3 2\nInput in 0 1 x\n" + CONV + "\n", 2, "layer_count is 3", "2 layer lines")


def test_layer_lines_past_layer_count_are_ignored_with_a_warning(tmp_path):
    """ncnn reads exactly layer_count lines (spec 1.1; nanodet_m.param has one more)."""
    path = tmp_path / "extra.param"
    path.write_text("7767517\n1 2\nInput in 0 1 x\n" + CONV + "\nBogusType b 0 0\n")
    with pytest.warns(NcnnlikeWarning, match=r"extra.param:4: 2 layer lines after the 1 that line 2 declares"):
        graph = read_param(str(path))
    assert [layer.name for layer in graph] == ["in"]


def test_blob_count_below_distinct_blob_names(tmp_path):
    param_error(tmp_path, "7767517\n2 1\nInput in 0 1 x\n" + CONV + "\n", 2, "blob_count is 1", "2 distinct blobs")


def test_too_few_blob_names_for_the_counts(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c 1 2 x y 0=4 1=3 6=108\n", 4, "needs 3 blob names", "has 2")


def test_too_many_blob_names_for_the_counts(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c 1 1 x y z 0=4 1=3 6=108\n", 4, "needs 2 blob names", "has 3")


def test_counts_that_are_not_numbers(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c one 1 x y 0=4\n", 4, "bottom_count 'one'")
    param_error(tmp_path, HEAD + "Convolution c\n", 4, "type name bottom_count top_count")


def test_unknown_layer_type(tmp_path):
    param_error(tmp_path, HEAD + "Convolutoin c 1 1 x y 0=4\n", 4, "unknown or unsupported layer type 'Convolutoin'")


def test_value_token_longer_than_15_characters(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c 1 1 x y 0=4 1=3 6=1080000000000000\n", 4, "longer than the 15")


def test_tab_after_a_value_is_rejected(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c 1 1 x y 0=4\t1=3 6=108\n", 4, "tab or carriage return")


def test_crlf_line_end_after_a_param_is_rejected(tmp_path):
    param_error(tmp_path, HEAD.replace("\n", "\r\n") + CONV + "\r\n", 4, "tab or carriage return")


@pytest.mark.parametrize("token,key", [("32=1", "id 32"), ("-23332=1,1", "id 32"), ("-5=1", "id -5")])
def test_param_id_outside_0_to_31(tmp_path, token, key):
    param_error(tmp_path, HEAD + CONV + " " + token + "\n", 4, key, "outside 0..31")


def test_param_token_not_of_the_form_id_equals_value(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 5:1\n", 4, "'5:1' is not of the form id=value")
    param_error(tmp_path, HEAD + CONV + " 5= 1\n", 4, "param 5 has an empty value")


def test_int_token_for_a_float_param_would_be_a_denormal(tmp_path):
    param_error(tmp_path, HEAD.replace("2 2", "2 3") + "BinaryOp b 1 1 x y 1=1 2=3\n", 4,
                "param 2 (b) is a float", "write 3.0")


def test_float_token_for_an_int_param_would_be_a_bit_pattern(tmp_path):
    param_error(tmp_path, HEAD + "Convolution c 1 1 x y 0=4.0 1=3 6=108\n", 4, "param 0 (num_output) is an int")


def test_string_for_a_numeric_param(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 18=inf\n", 4, "param 18 (pad_value) must be a number")


def test_scalar_for_an_array_param(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 9=3 10=6.0\n", 4, "must be an array (-23310=count,...)")


def test_array_count_that_does_not_match_its_elements(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 9=3 -23310=3,0.0,6.0\n", 4, "declares 3 elements but lists 2")


def test_old_style_array_mixing_nonzero_ints_and_floats(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 9=3 -23310=2,1,6.0\n", 4, "mixes ints and floats", "'1'")


def test_new_style_int_array_with_a_float_element(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 9=3 10=0,6.0\n", 4, "first element (int)", "'6.0'")


def test_float_that_overflows_ncnns_parser(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 18=0.1234567891\n", 4, "overflows ncnn's parser")


def test_integer_outside_32_bits(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 5=4294967296\n", 4, "not a 32-bit integer")


def test_param_id_given_twice(tmp_path):
    param_error(tmp_path, HEAD + CONV + " 0=8\n", 4, "param id 0 is given twice")


def test_shape_hints_for_the_wrong_number_of_tops(tmp_path):
    param_error(tmp_path, HEAD + CONV + " -23330=10,3,8,8,1,4,3,8,8,1,4\n", 4, "hold 10 ints for 1 top blob(s)")
    param_error(tmp_path, HEAD + CONV + " -23330=3,3,8,8\n", 4, "4 (dims,w,h,c) or 5 (dims,w,h,d,c) per top")


def test_shape_hints_that_are_no_blob_shape(tmp_path):
    param_error(tmp_path, HEAD + CONV + " -23330=4,7,8,8,4\n", 4, "shape hint 7,8,8,4 is not a blob shape")
    param_error(tmp_path, HEAD + CONV + " -23330=4,3,8,-8,4\n", 4, "shape hint 3,8,-8,4")
    param_error(tmp_path, HEAD + CONV + " -23330=4,4,8,8,4\n", 4, "a 4-D blob needs 5 ints per top")


def test_unterminated_quoted_string(tmp_path):
    param_error(tmp_path, HEAD + 'Reshape r 1 1 x y 6="w,h\n', 4, "unterminated string")


def test_duplicate_layer_names(tmp_path):
    param_error(tmp_path, "7767517\n3 3\nInput in 0 1 x\n" + CONV + "\nConvolution c 1 1 y z 0=4 1=3 6=144\n", 5,
                "layer c", "duplicate layer name (first on line 4)")


def test_bottom_blob_used_before_it_is_produced(tmp_path):
    param_error(tmp_path, "7767517\n3 3\nInput in 0 1 x\nConvolution c 1 1 z y 0=4 1=3 6=108\n"
                "Convolution d 1 1 y z 0=4 1=3 6=144\n", 4, "bottom blob 'z' is used before")


def test_top_blob_produced_twice(tmp_path):
    param_error(tmp_path, "7767517\n3 2\nInput in 0 1 x\n" + CONV + "\nConvolution d 1 1 y x 0=4 1=3 6=144\n", 5,
                "top blob 'x' is already produced by layer in")


def conv_graph():
    return Graph([layer("Input", "in", [], ["x"]),
                  layer("Convolution", "c", ["x"], ["y"], {0: 1, 1: 1, 6: 3, 5: 1},
                        {"weight_data": np.ones(3, np.float32), "bias_data": np.ones(1, np.float32)})])


def test_truncated_bin_names_layer_buffer_offset_and_size(tmp_path):
    path = tmp_path / "short.bin"
    path.write_bytes(bytes(4) + np.ones(3, "<f4").tobytes())
    with pytest.raises(NcnnlikeError) as info:
        read_bin(conv_graph(), str(path))
    assert str(info.value) == ("%s: truncated at layer c (Convolution) buffer bias_data: need 4 bytes at offset 16, "
                               "file has 16" % path)


def test_bin_with_bytes_left_over_says_param_and_bin_disagree(tmp_path):
    path = tmp_path / "long.bin"
    path.write_bytes(bytes(4) + np.ones(4, "<f4").tobytes() + bytes(8))
    graph = conv_graph()
    with pytest.raises(NcnnlikeError, match="8 bytes left after the last layer .c.*do not belong together"):
        read_bin(graph, str(path))
    assert graph.layer("c").weights["bias_data"].tolist() == [1.0]       # graph untouched on failure


def test_tiny_params_with_lite0_weights_are_rejected():
    with pytest.raises(NcnnlikeError, match="bytes left after the last layer"):
        load_model(os.path.join(REFERENCE, "tiny", "tiny-opt.param"),
                   os.path.join(REFERENCE, "lite0", "lite0-int8-kl.bin"))


def test_missing_bin_is_named(tmp_path):
    with pytest.raises(NcnnlikeError, match="none.bin: cannot read"):
        read_bin(conv_graph(), str(tmp_path / "none.bin"))


def test_writing_into_a_missing_folder_leaves_nothing(tmp_path):
    missing = tmp_path / "no" / "such"
    for write in (lambda: write_param(conv_graph(), str(missing / "m.param")),
                  lambda: write_bin(conv_graph(), str(missing / "m.bin")),
                  lambda: save_model(conv_graph(), str(tmp_path / "m.param"), str(missing / "m.bin"))):
        with pytest.raises(NcnnlikeError, match="cannot write"):
            write()
    assert os.listdir(tmp_path) == []


def test_save_model_that_fails_on_the_bin_leaves_neither_file(tmp_path):
    graph = conv_graph()
    del graph.layer("c").weights["bias_data"]
    with pytest.raises(NcnnlikeError, match="bias_data is missing"):
        save_model(graph, str(tmp_path / "m.param"), str(tmp_path / "m.bin"))
    assert os.listdir(tmp_path) == []


def test_save_model_that_fails_keeps_the_previous_pair(tmp_path):
    param, binf = tmp_path / "m.param", tmp_path / "m.bin"
    param.write_text("old param")
    binf.write_bytes(b"old bin")
    graph = conv_graph()
    graph.layer("c").weights["weight_data"] = np.ones(2, np.float32)
    with pytest.raises(NcnnlikeError, match="weight_data has 2 values, its params say 3"):
        save_model(graph, str(param), str(binf))
    assert param.read_text() == "old param" and binf.read_bytes() == b"old bin"
    assert sorted(os.listdir(tmp_path)) == ["m.bin", "m.param"]
