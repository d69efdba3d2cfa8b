"""Python API errors are NcnnlikeError subclasses (and the builtin type a caller expects) with the
CLI's one-line messages; resource limits stop huge blobs before onnxruntime allocates (issue 15)."""
import numpy as np
import pytest

from ncnnlike.errors import NcnnlikeError, NcnnlikeLimitError
from ncnnlike.runtime import Net
from oracle import make_model


def loaded(tmp_path, text):
    param, binfile, _ = make_model(text, tmp_path)
    net = Net()
    net.opt.num_threads = 1
    net.load_param(param)
    net.load_model(binfile)
    return net


def test_input_before_loading_is_a_usage_error():
    with pytest.raises(NcnnlikeError, match=r"no model loaded: call load_param") as info:
        Net().create_extractor().input("x", np.zeros(3, np.float32))
    assert isinstance(info.value, RuntimeError)


def test_run_with_no_outputs_is_a_value_error(tmp_path):
    net = loaded(tmp_path, "Input in 0 1 x 0=4\nReLU r 1 1 x y")
    with pytest.raises(NcnnlikeError, match="no output blob requested") as info:
        net.run({"x": np.zeros((1, 4), np.float32)}, [])
    assert isinstance(info.value, ValueError)


def test_blob_shape_of_an_unknown_blob_is_a_key_error_with_a_plain_message():
    with pytest.raises(KeyError) as info:
        Net().blob_shape("nope")
    assert isinstance(info.value, NcnnlikeError)
    assert str(info.value) == "blob_shape('nope'): no such blob in the most recent run"


def test_use_int8_inference_takes_only_its_modes():
    net = Net()
    for mode in (True, False, "fast"):
        net.opt.use_int8_inference = mode
    with pytest.raises(NcnnlikeError, match=r"use_int8_inference='bogus': expected True") as info:
        net.opt.use_int8_inference = "bogus"
    assert isinstance(info.value, ValueError) and net.opt.use_int8_inference == "fast"


def test_load_param_of_an_int_is_a_type_error_not_a_file_descriptor():
    with pytest.raises(NcnnlikeError, match=r"\.param path must be a str or os\.PathLike, got int 3") as info:
        Net().load_param(3)
    assert isinstance(info.value, TypeError)


def test_interp_to_60000_squared_is_refused_before_allocation(tmp_path):
    net = loaded(tmp_path, "Input in 0 1 x 0=4 1=4 2=3\nInterp up 1 1 x y 0=1 3=60000 4=60000")
    with pytest.raises(NcnnlikeLimitError, match=r"layer up \(Interp\): top blob 'y' of shape 3x60000x60000 .* "
                                                 r"more than the limit NCNNLIKE_MAX_BLOB_BYTES"):
        net.run({"x": np.zeros((1, 3, 4, 4), np.float32)}, ["y"])


def test_a_huge_pad_is_refused_before_allocation(tmp_path):
    """4=46341 pads a 4x4 input to 92686^2: 34 GB per channel before the convolution."""
    net = loaded(tmp_path, "Input in 0 1 x 0=4 1=4 2=3\nConvolution c 1 1 x y 0=2 1=1 4=46341 6=6")
    with pytest.raises(NcnnlikeLimitError, match=r"layer c \(Convolution\).*NCNNLIKE_MAX_BLOB_BYTES"):
        net.run({"x": np.zeros((1, 3, 4, 4), np.float32)}, ["y"])


def test_a_whole_batch_over_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("NCNNLIKE_MAX_BATCH_BLOB_BYTES", str(1000))
    net = loaded(tmp_path, "Input in 0 1 x 0=100\nReLU r 1 1 x y")
    with pytest.raises(NcnnlikeLimitError, match="a batch of 8.*NCNNLIKE_MAX_BATCH_BLOB_BYTES=1000"):
        net.run({"x": np.zeros((8, 100), np.float32)}, ["y"])
    assert net.run({"x": np.ones((2, 100), np.float32)}, ["y"])["y"].shape == (2, 100)
