"""Fold (col2im) vs pip ncnn: kernel/dilation/stride per axis, pads cut from the output,
non-positive pads shrinking it, and Unfold -> Fold round trips. Exact: both add the overlapping
taps onto zeros in the same order (kernel tap by tap)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params

RNG = np.random.default_rng(0)


def sliding(out, pads, k, s, d):
    """Sliding positions on one axis: (out + pads - extent) // stride + 1."""
    return (out + pads - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("c,k,s,d,pads,out", [
    # k, s, d = (h, w); pads (top, bottom, left, right); out (h, w)
    (2, (3, 3), (1, 1), (1, 1), (0, 0, 0, 0), (6, 7)),         # overlapping taps add up
    (3, (2, 3), (2, 1), (1, 2), (0, 0, 0, 0), (7, 8)),         # per-axis geometry
    (2, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (7, 7)),         # pads cut from the output
    (1, (2, 2), (1, 3), (2, 1), (2, 0, 1, 3), (5, 6)),         # every pad on its own
    (2, (3, 2), (1, 1), (1, 1), (0, -1, -2, 0), (6, 7)),       # non-positive pads shrink the output
    (2, (2, 2), (3, 3), (1, 1), (0, 0, 0, 0), (7, 8)),         # stride > kernel leaves zeros
])
def test_col2im_matches_ncnn_exactly(c, k, s, d, pads, out, tmp_path):
    inh = sliding(out[0], pads[0] + pads[1], k[0], s[0], d[0])
    inw = sliding(out[1], pads[2] + pads[3], k[1], s[1], d[1])
    x = RNG.standard_normal((c * k[0] * k[1], inh * inw)).astype(np.float32)
    params = "1=%d 11=%d 2=%d 12=%d 3=%d 13=%d 14=%d 16=%d 4=%d 15=%d 20=%d 21=%d" % (
        k[1], k[0], d[1], d[0], s[1], s[0], pads[0], pads[1], pads[2], pads[3], out[1], out[0])
    check_ncnn("Input in 0 1 x\nFold fd 1 1 x y " + params, {"x": x}, tmp_path, atol=0, rtol=0)


def test_unfold_then_fold_round_trip_matches_ncnn(tmp_path):
    x = RNG.standard_normal((3, 6, 7)).astype(np.float32)
    text = ("Input in 0 1 x\nUnfold uf 1 1 x cols 1=3 3=2 4=1\n"
            "Fold fd 1 1 cols y 1=3 3=2 4=1 20=7 21=6")
    outs = check_ncnn(text, {"x": x}, tmp_path, atol=0, rtol=0)
    assert outs["y"][0].shape == (2, 3, 6, 7)


def test_params_in_modelwriter_order():
    l = layer("Fold", "fd", ["x"], ["y"], {21: 5, 20: 4, 16: 2, 4: 1, 13: 2, 1: 3})
    assert [pid for pid, _ in explicit_params(l)] == [1, 13, 4, 16, 20, 21]


@pytest.mark.parametrize("shape,params,message", [
    ((18, 20), {1: 3, 20: 6, 21: 6}, "slides 4x4 positions, the bottom has w 20"),
    ((17, 16), {1: 3, 20: 6, 21: 6}, "not a multiple of kernel_h x kernel_w = 9"),
    ((18, 16), {1: 3, 20: 6, 21: 6, 4: 1, 15: -1}, "mix positive and negative"),
    ((18, 16), {1: 3}, "output_w 0 and output_h 0 must be >= 1"),
    ((2, 18, 16), {1: 3, 20: 6, 21: 6}, "expects a 2-D"),
])
def test_bad_params_raise_naming_the_layer(shape, params, message):
    l = layer("Fold", "bad_fd", ["x"], ["y"], params)
    with pytest.raises(NcnnlikeError, match="bad_fd.*Fold.*" + message):
        run_layers([l], {"x": np.zeros((1,) + shape, np.float32)})
