"""cutstart / cutend (spec 4.1): the kept range, Inputs for cut blobs, right header counts."""
import os

import numpy as np
import pytest

from helpers import REFERENCE
from passgraphs import run
from ncnnlike.errors import NcnnlikeError
from ncnnlike.io.model import load_model
from ncnnlike.io.param import param_text
from ncnnlike.passes import optimize
from ncnnlike.passes.cut import apply_cut, cut_range

TINY = os.path.join(REFERENCE, "tiny")


def _tiny(shape=True):
    g = load_model(os.path.join(TINY, "tiny.ncnn.param"), os.path.join(TINY, "tiny.ncnn.bin"))
    if shape:
        g.layers[0].params.update({0: 32, 1: 32, 2: 3})
    return g


def test_cut_keeps_the_range_and_feeds_it_with_an_input_of_known_shape():
    full, g = _tiny(), _tiny()
    keep = cut_range(g, "convrelu_1", "conv_7")
    optimize(g)
    assert apply_cut(g, keep) == 5
    assert [(l.type, l.name) for l in g.layers] == [("Input", "1"), ("Convolution", "convrelu_1"),
                                                    ("ConvolutionDepthWise", "convdwrelu_0"),
                                                    ("Convolution", "conv_7")]
    assert g.layers[0].params == {0: 32, 1: 32, 2: 8} and g.layers[0].shape_hints == [(3, 32, 32, 1, 8)]
    assert param_text(g).split("\n")[1] == "4 4"
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    mid = run(full, {"in0": x}, ["1", "4"])
    np.testing.assert_allclose(run(g, {"1": mid["1"]}, ["4"])["4"], mid["4"], atol=1e-5)


def test_cutstart_alone_keeps_to_the_end_and_shapeless_input_stays_shapeless():
    g = _tiny(shape=False)
    keep = cut_range(g, "gap_0")
    optimize(g)
    apply_cut(g, keep)
    assert [l.name for l in g.layers] == ["5", "gap_0", "linear_8"] and g.layers[0].params == {}


@pytest.mark.parametrize("start, end, message", [
    ("nope", None, "cutstart: no layer named 'nope'"),
    ("in0", "missing", "cutend: no layer named 'missing'"),
    ("conv_7", "convrelu_0", "comes after"),
])
def test_bad_cut_names_are_clear_errors(start, end, message):
    with pytest.raises(NcnnlikeError, match=message):
        cut_range(_tiny(), start, end)
