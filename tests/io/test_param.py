"""The .param reader/writer: ncnn-made files round-trip byte for byte, pnnx files normalise like
ncnnoptimize, and the param syntax of spec 1.2/1.4 is read as ncnn reads it."""
import os

import pytest

from helpers import REFERENCE, layer
from ncnnlike.errors import NcnnlikeError
from ncnnlike.graph import Graph
from ncnnlike.io.param import param_text, read_param, write_param
from ncnnlike.layers.base import resolve

NCNN_MADE = ["tiny/tiny-opt", "tiny/tiny-int8", "tiny/tiny-int8-aciq", "tiny/tiny-int8-mixA",
             "tiny/tiny-int8-mixB", "tiny/tiny-int8-mixC", "lite0/lite0-opt", "lite0/lite0-int8-kl",
             "lite0/lite0-int8-aciq"]
PNNX_MADE = [("tiny/tiny.ncnn", "tiny/tiny-opt"), ("lite0/lite0.ncnn", "lite0/lite0-opt")]


def ref(name):
    return os.path.join(REFERENCE, name + ".param")


def write_text(tmp_path, text, name="m.param"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def resolved(graph):
    return [(l.type, l.name, l.bottoms, l.tops, resolve(l).by_id) for l in graph.layers]


@pytest.mark.parametrize("name", NCNN_MADE)
def test_ncnn_made_param_rewrites_to_identical_bytes(name, tmp_path):
    original = open(ref(name)).read()
    out = str(tmp_path / "out.param")
    write_param(read_param(ref(name)), out)
    rewritten = open(out).read()
    assert rewritten.split() == original.split()
    assert rewritten == original


@pytest.mark.parametrize("pnnx,optimized", PNNX_MADE)
def test_pnnx_param_drops_defaults_exactly_like_ncnnoptimize(pnnx, optimized):
    graph = read_param(ref(pnnx))
    assert param_text(graph) == open(ref(optimized)).read()


@pytest.mark.parametrize("pnnx,_", PNNX_MADE)
def test_pnnx_param_rewrite_rereads_to_the_same_resolved_params(pnnx, _, tmp_path):
    graph = read_param(ref(pnnx))
    out = str(tmp_path / "out.param")
    write_param(graph, out)
    assert resolved(read_param(out)) == resolved(graph)


def test_header_counts_and_blob_order_follow_the_file():
    graph = read_param(ref("tiny/tiny-opt"))
    assert len(graph) == 8
    assert graph.blob_names() == ["in0", "1", "2", "3", "4", "5", "6", "out0"]
    conv = graph.layer("convrelu_1")
    assert (conv.type, conv.bottoms, conv.tops) == ("Convolution", ["1"], ["2"])
    assert dict(conv.params) == {0: 16, 1: 3, 3: 2, 4: 1, 5: 1, 6: 1152, 9: 1}


def test_float_arrays_and_int_arrays_keep_their_element_type():
    graph = read_param(ref("lite0/lite0-opt"))
    assert graph.layer("convclip_0").params[10] == [0.0, 6.0]
    assert graph.layer("mean_73").params[3] == [2, 1]


def test_floats_are_rounded_to_float32_and_written_with_printf_e(tmp_path):
    path = write_text(tmp_path, "7767517\n2 2\nInput in 0 1 x\nBinaryOp add 1 1 x y 0=0 1=1 2=0.1\n")
    add = read_param(path).layer("add")
    assert add.params[2] == 0.10000000149011612
    assert param_text(read_param(path)).splitlines()[-1].endswith(" 1=1 2=1.000000e-01")


def test_int_zero_for_a_float_param_reads_as_float_zero(tmp_path):
    path = write_text(tmp_path, "7767517\n2 2\nInput in 0 1 x\nBinaryOp add 1 1 x y 1=1 2=0\n")
    assert read_param(path).layer("add").params[2] == 0.0
    assert isinstance(read_param(path).layer("add").params[2], float)


def test_new_style_arrays_take_their_type_from_the_first_element(tmp_path):
    path = write_text(tmp_path, "7767517\n3 3\nInput in 0 1 x\n"
                                "Convolution a 1 1 x y 0=1 1=1 6=1 9=3 10=0.5,6\n"
                                "Convolution b 1 1 y z 0=1 1=1 6=1 25=1,2,3\n")
    graph = read_param(path)
    assert graph.layer("a").params[10] == [0.5, 6.0]
    assert graph.layer("b").params[25] == [1, 2, 3]


def test_old_style_array_with_float_zero_elements_and_int_zero_is_a_float_array(tmp_path):
    path = write_text(tmp_path, "7767517\n2 2\nInput in 0 1 x\n"
                                "Convolution a 1 1 x y 0=1 1=1 6=1 9=3 -23310=2,0,6.000000e+00\n")
    assert read_param(path).layer("a").params[10] == [0.0, 6.0]


def test_strings_quoted_with_spaces_and_unquoted_are_read_and_written_quoted(tmp_path):
    path = write_text(tmp_path, '7767517\n3 3\nInput in 0 1 x\n'
                                'Reshape r1 1 1 x y 6="1, 2,-1"\nReshape r2 1 1 y z 6=w,h*2\n')
    graph = read_param(path)
    assert graph.layer("r1").params[6] == "1, 2,-1"
    assert graph.layer("r2").params[6] == "w,h*2"
    lines = param_text(graph).splitlines()
    assert lines[3].endswith(' y 6="1, 2,-1"') and lines[4].endswith(' z 6="w,h*2"')


def test_unknown_param_ids_are_kept_verbatim(tmp_path):
    path = write_text(tmp_path, "7767517\n2 2\nInput in 0 1 x\nConvolution c 1 1 x y 0=1 1=1 6=1 31=1 27=2.5\n")
    conv = read_param(path).layer("c")
    assert conv.params[31] == 1 and conv.params[27] == 2.5
    assert param_text(read_param(path)).splitlines()[-1].endswith(" 6=1 31=1 27=2.500000e+00")


def test_shape_hints_are_read_per_top_and_written_before_params(tmp_path):
    path = write_text(tmp_path, "7767517\n3 4\nInput in 0 1 x -23330=5,3,8,8,1,3 0=8 1=8 2=3\n"
                                "Split sp 1 2 x a b -23330=10,3,8,8,1,3,3,8,8,1,3\n"
                                "Convolution c 1 1 a y 0=2 1=1 6=6\n")
    graph = read_param(path)
    assert graph.layer("in").shape_hints == [(3, 8, 8, 1, 3)]
    assert graph.layer("sp").shape_hints == [(3, 8, 8, 1, 3), (3, 8, 8, 1, 3)]
    assert graph.layer("c").shape_hints is None
    lines = param_text(graph).splitlines()
    assert lines[2].split()[3:] == ["1", "x", "-23330=5,3,8,8,1,3", "0=8", "1=8", "2=3"]
    graph.layer("sp").shape_hints = [(3, 8, 8, 1, 3), None]
    assert "-23330" not in param_text(graph).splitlines()[3]


def test_old_four_int_shape_hints_read_as_dims_w_h_c_and_rewritten_with_five(tmp_path):
    """Spec 1.4: ncnn's benchmark models write `dims,w,h,c`; today's writer `dims,w,h,d,c`."""
    path = write_text(tmp_path, "7767517\n2 3\nInput in 0 1 x -23330=4,3,8,8,3 0=8 1=8 2=3\n"
                                "Split sp 1 2 x a b -23330=8,3,8,8,3,1,64,0,0\n")
    graph = read_param(path)
    assert graph.layer("in").shape_hints == [(3, 8, 8, 1, 3)]
    assert graph.layer("sp").shape_hints == [(3, 8, 8, 1, 3), (1, 64, 0, 1, 0)]
    assert "-23330=10,3,8,8,1,3,1,64,0,1,0" in param_text(graph).splitlines()[3]


def test_hand_written_file_with_single_spaces_tabs_in_names_and_blank_lines_loads(tmp_path):
    path = write_text(tmp_path, "\n7767517\n2 2\n\nInput\tin 0 1 x\nConvolution c 1 1 x y 0=4 1=3 6=108\n\n")
    graph = read_param(path)
    assert [l.name for l in graph.layers] == ["in", "c"]
    assert resolve(graph.layer("c")).kernel_h == 3


def test_writer_prints_exact_distinct_blob_count_and_padded_columns():
    graph = Graph([layer("Input", "in", [], ["x"]),
                   layer("Split", "sp", ["x"], ["a", "b"]),
                   layer("Convolution", "c", ["a"], ["y"], {0: 2, 1: 1, 11: 1, 6: 2})])
    lines = param_text(graph).splitlines()
    assert lines[:2] == ["7767517", "3 4"]
    assert lines[4] == "%-24s %-24s 1 1 a y 0=2 1=1 6=2" % ("Convolution", "c")


def test_write_param_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    out = tmp_path / "m.param"
    out.write_text("old")
    graph = Graph([layer("Input", "in", [], ["x"]), layer("NoSuchLayer", "bad", ["x"], ["y"])])
    with pytest.raises(NcnnlikeError, match="NoSuchLayer"):
        write_param(graph, str(out))
    assert out.read_text() == "old"
    assert os.listdir(tmp_path) == ["m.param"]


def test_written_file_gets_normal_permissions(tmp_path):
    out = str(tmp_path / "m.param")
    write_param(read_param(ref("tiny/tiny-opt")), out)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~umask
