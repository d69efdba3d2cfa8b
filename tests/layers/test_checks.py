"""Layer param validation (layers/checks.py): the reader refuses what ncnn's per-layer load_param
refuses or its forward would crash on, naming file, line, layer and param; the writer never emits
such a file; every layer module in the folder declares its rules."""
import os
import warnings

import pytest

from fuzz import harness
from helpers import layer
from ncnnlike.errors import NcnnlikeError, NcnnlikeWarning
from ncnnlike.graph import Graph
from ncnnlike.io.param import param_text, read_param
from ncnnlike.layers.registry_index import module_names

HELPERS = {"__init__", "activation", "attention_int8", "base", "checks", "conv_nd", "deconv_nd", "int8",
           "int8_fast", "int8_sim", "lowering", "ncnn_mha_scale", "ncnn_rcp", "nd_geometry", "nms", "pool_nd",
           "recurrent", "recurrent_scan", "registry_index", "x86_recip", "x86_softmax"}

# layer lines ncnn refuses (pip ncnn: load_param fails, or the forward crashes) -> what our error says
REFUSED = [
    ("Input in 0 1 x 0=8 1=8 2=3\nConvolution c 1 1 x y 0=4 1=0 6=12", "kernel_w=0: must be at least 1"),
    ("Input in 0 1 x 0=8 1=8 2=3\nConvolution c 1 1 x y 0=4 1=3 11=-1 6=108", "kernel_h=-1: must be at least 1"),
    ("Input in 0 1 x 0=8 1=8 2=3\nConvolution c 1 1 x y 0=4 1=3 6=100",
     "weight_data_size=100: must be a positive multiple of num_output x kernel 3x3 = 36"),
    ("Input in 0 1 x 0=8 1=8 2=3\nPooling p 1 1 x y 0=9 1=2 2=2", "pooling_type=9: expected one of 0, 1"),
    ("Input in 0 1 x 0=8 1=8 2=3\nPooling p 1 1 x y 0=0 1=2 2=0", "stride_w=0: must be at least 1"),
    ("Input in 0 1 x 0=8 1=8 2=3\nInnerProduct f 1 1 x y 0=10 2=95",
     "weight_data_size=95: must be a positive multiple of num_output = 10"),
    ("Input in 0 1 x 0=8 1=8 2=3\nSplit s 1 2 x a b\nReLU r 2 1 a b y", "has 2 bottom blobs, ncnn's forward needs 1"),
    ("Input in 0 1 x 0=8 1=8 2=4\nConvolutionDepthWise c 1 1 x y 0=6 1=3 6=108 7=4",
     "num_output=6: must be a multiple of group=4"),
    ("Input in 0 1 x 0=8 1=8 2=3\nSoftmax s 1 1 x y 0=1", "axis=1 without 1=1 (fixbug0)"),
    ("Input in 0 1 x 0=64\nSpectrogram s 1 1 x y 0=8 3=9", "winlen=9: must be at most 8"),
    ("Input in 0 1 x 0=8 1=8 2=3\nSlice s 1 2 x a b -23300=2,0,-233", "a slice is >= 1 or -233"),
    ("Input in 0 1 x 0=8 1=4\nGemm g 1 1 x y 4=1 5=0 7=0 9=8", "constantM=0: must be at least 1"),
    ("Input in 0 1 x 0=16 1=8\nLSTM l 1 1 x y 0=12 1=768 2=5", "direction=5: expected one of 0, 1, 2"),
    ("Input in 0 1 x 0=8 1=8 2=3\nReduction r 1 1 x y 0=0 1=0 -23303=1,0", "axes without 5=1 (fixbug0)"),
]


def param_file(tmp_path, text):
    lines = text.split("\n")
    blobs = list(dict.fromkeys(b for line in lines for b in
                               line.split()[4:4 + int(line.split()[2]) + int(line.split()[3])]))
    path = tmp_path / "m.param"
    path.write_text("7767517\n%d %d\n%s\n" % (len(lines), len(blobs), text))
    return str(path)


@pytest.mark.parametrize("text,message", REFUSED, ids=[m.split(":")[0] for _, m in REFUSED])
def test_the_reader_refuses_what_ncnn_refuses(tmp_path, text, message):
    path = param_file(tmp_path, text)
    with pytest.raises(NcnnlikeError) as info:
        read_param(path)
    line = len(text.split("\n")) + 2
    assert str(info.value).startswith("%s:%d: layer " % (path, line)) and message in str(info.value), str(info.value)
    binfile = tmp_path / "m.bin"
    binfile.write_bytes(bytes(4096))
    assert harness.ncnn_refuses_param(path, str(binfile)) is not None


def test_a_blob_read_by_two_layers_is_a_warning_and_the_writer_refuses_it(tmp_path):
    """ncnn frees a blob after its first reader: extracting both tops fails with -100."""
    path = param_file(tmp_path, "Input in 0 1 x 0=4\nReLU a 1 1 x y\nSigmoid s 1 1 x z")
    with pytest.warns(NcnnlikeWarning, match="blob 'x' is also a bottom of layer a"):
        graph = read_param(path)
    with pytest.raises(NcnnlikeError, match="layer s: blob 'x' is already a bottom of layer a: ncnn needs a Split"):
        param_text(graph)


def test_the_writer_refuses_an_int_outside_32_bits():
    """onnx2model once wrote 0=2147483648, which ncnn's %d and our reader refuse."""
    graph = Graph([layer("Input", "in", [], ["x"]), layer("ShuffleChannel", "s", ["x"], ["y"], {0: 2**31})])
    with pytest.raises(NcnnlikeError, match=r"layer s \(ShuffleChannel\): param 0 = 2147483648 does not fit"):
        param_text(graph)


def test_the_writer_refuses_params_a_pass_got_wrong():
    graph = Graph([layer("Input", "in", [], ["x"], {0: 4}),
                   layer("Pooling", "p", ["x"], ["y"], {0: 0, 1: 0})])
    with pytest.raises(NcnnlikeError, match=r"layer p \(Pooling\): kernel_w=0"):
        param_text(graph)


def test_shape_hints_with_a_negative_size_are_never_written():
    """An Input 1=-1 once gave negative -23330 hints."""
    graph = Graph([layer("Input", "in", [], ["x"], {0: 4})])
    graph.layers[0].shape_hints = [(1, -1, 1, 1, 1)]
    with pytest.raises(NcnnlikeError, match="shape hints"):
        param_text(graph)
    graph.layers[0].params[1] = -1
    graph.layers[0].shape_hints = None
    with pytest.raises(NcnnlikeError, match="h=-1: must be at least 0"):
        param_text(graph)


def test_an_empty_weight_buffer_is_refused():
    """ncnn's ModelBin returns an empty Mat for 0 values and load_model fails."""
    graph = Graph([layer("Input", "in", [], ["x"], {0: 4}), layer("BatchNorm", "b", ["x"], ["y"], {0: 0})])
    with pytest.raises(NcnnlikeError, match="channels=0: must be at least 1"):
        param_text(graph)


def test_every_layer_module_declares_its_rules():
    """BLOBS or check_params in each module that registers a type: the mechanism covers the folder."""
    missing = []
    for name in module_names():
        if name in HELPERS:
            continue
        module = __import__("ncnnlike.layers." + name, fromlist=["x"])
        if getattr(module, "TYPE", None) or getattr(module, "TYPES", None):
            if not (hasattr(module, "BLOBS") or hasattr(module, "check_params")):
                missing.append(name)
    assert not missing, missing


def test_every_reference_param_file_still_reads(tmp_path):
    """The checks refuse nothing real: ncnn's benchmark models, pnnx and ncnn tool outputs."""
    import glob
    from helpers import REFERENCE
    files = glob.glob(os.path.join(REFERENCE, "**", "*.param"), recursive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in files:
            read_param(path)
    assert len(files) > 50


def test_a_kernel_whose_size_overflows_an_int_is_refused(tmp_path):
    """pip ncnn's Pooling load_param refuses 46341 x 46341 (maxk is an int); 46340 x 46340 loads."""
    path = param_file(tmp_path, "Input in 0 1 x 0=8 1=8 2=3\nPooling p 1 1 x y 1=46341 2=2")
    with pytest.raises(NcnnlikeError, match="kernel_w=46341 x kernel_h=46341 = 2147488281: the kernel size must fit"):
        read_param(path)
    (tmp_path / "m.bin").write_bytes(b"")
    assert harness.ncnn_refuses_param(path, str(tmp_path / "m.bin")) == "load_param"
    read_param(param_file(tmp_path, "Input in 0 1 x 0=8 1=8 2=3\nPooling p 1 1 x y 1=46340 2=2"))
