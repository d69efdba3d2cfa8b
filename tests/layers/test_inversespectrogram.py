"""InverseSpectrogram against pip ncnn: complex / real / imaginary output, onesided or full input,
windows, hop and winlen, center, the normalisations; and Spectrogram -> InverseSpectrogram
giving the signal back in both runtimes.

Tolerance: ncnn sums n_fft float32 products per sample and divides by the window sum, which is
tiny next to the ends of an uncentred hann window: measured <= 4e-6 abs (typically 2e-7) on
outputs of order 0.1-1.
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("params,shape", [
    ("0=16", (9, 17, 2)),                                # defaults: complex out, ones window, centred
    ("0=16 1=1 4=1", (9, 17, 2)),                        # real part, hann
    ("0=16 1=2 4=2 2=3 3=12", (9, 11, 2)),               # imaginary part, hamming, hop 3, winlen 12
    ("0=16 5=0 4=1", (16, 13, 2)),                       # full spectrum in, not centred
    ("0=15 7=1 4=1", (8, 21, 2)),                        # odd n_fft, sqrt(n_fft) scaling
    ("0=16 7=2 4=1 3=10", (9, 17, 2)),                   # window-norm scaling
    ("0=512 2=128 4=1", (257, 32, 2)),
])
def test_inversespectrogram_matches_ncnn(tmp_path, params, shape):
    x = RNG.standard_normal(shape).astype(np.float32)
    check_ncnn("Input in 0 1 x\nInverseSpectrogram i 1 1 x y " + params, {"x": x}, tmp_path, atol=2e-5, rtol=1e-5)


def test_spectrogram_then_inverse_gives_the_signal_back(tmp_path):
    x = RNG.standard_normal(64).astype(np.float32)
    text = """Input in 0 1 x
    Spectrogram s 1 1 x spec 0=16 4=1
    InverseSpectrogram i 1 1 spec y 0=16 4=1 1=1"""
    ours, theirs = check_ncnn(text, {"x": x}, tmp_path, outputs=["y"], atol=2e-6, rtol=1e-5)["y"]
    np.testing.assert_allclose(ours[0], x, atol=1e-5)


@pytest.mark.parametrize("params,shape,match", [
    ({0: 16, 1: 3}, (9, 5, 2), "returns"),
    ({0: 16}, (7, 5, 2), "freqs 7"),
    ({0: 16}, (9, 5, 3), "3-D"),
    ({0: 16, 2: 0}, (9, 5, 2), "hoplen"),
    ({0: 16}, (9, 1, 2), "empty"),
])
def test_bad_params_are_refused_naming_the_layer(params, shape, match):
    with pytest.raises(NcnnlikeError, match=r"layer istft1 \(InverseSpectrogram\).*" + match):
        run_layers([layer("InverseSpectrogram", "istft1", ["x"], ["y"], params)],
                   {"x": np.ones((1,) + shape, np.float32)})
