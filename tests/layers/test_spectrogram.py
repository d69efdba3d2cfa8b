"""Spectrogram against pip ncnn: complex / magnitude / power output, windows, hop and winlen,
center padding modes, onesided or full, the three normalisations; the output layout checked
against numpy's FFT too.

Tolerance: ncnn sums n_fft float32 products per bin (and takes cosf of a float-rounded angle,
which we reproduce), so differences grow with n_fft and the signal: measured <= 1e-6 abs for
n_fft 16 on unit signals, 4.2e-5 for n_fft 512 (outputs up to ~60), 1.3e-3 on power 2 (outputs
up to ~1e4).
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("params,n,atol", [
    ("0=16", 64, 1e-5),                                  # defaults: complex, ones, hop 4, reflect
    ("0=16 1=1 4=1", 64, 1e-5),                          # magnitude, hann
    ("0=16 1=2 4=1", 64, 5e-5),                          # power
    ("0=16 2=3 3=12 4=2 6=0", 50, 1e-5),                 # hop 3, winlen 12 centred, hamming, zero pad
    ("0=16 5=0 4=1 8=0", 64, 1e-5),                      # no centering, full spectrum
    ("0=15 6=1 7=1 4=1 8=0 1=1", 61, 1e-5),              # odd n_fft, replicate pad, 1/sqrt(n_fft)
    ("0=16 7=2 4=1 3=10", 64, 1e-5),                     # window normalised
    ("0=512 2=128 4=1", 4000, 2e-4),                     # a speech front end
    ("0=400 2=160 4=2 1=2", 1600, 6e-3),
])
def test_spectrogram_matches_ncnn(tmp_path, params, n, atol):
    x = RNG.standard_normal(n).astype(np.float32)
    check_ncnn("Input in 0 1 x\nSpectrogram s 1 1 x y " + params, {"x": x}, tmp_path, atol=atol, rtol=1e-5)


def test_complex_output_is_freqs_frames_real_imag():
    x = RNG.standard_normal((1, 40)).astype(np.float32)
    y = run_layers([layer("Spectrogram", "s", ["x"], ["y"], {0: 8, 2: 2, 5: 0})], {"x": x})["y"][0]
    frames = np.stack([x[0, i:i + 8] for i in range(0, 33, 2)])          # (17, 8)
    ref = np.fft.rfft(frames, axis=1).T                                  # (5 freqs, 17 frames)
    assert y.shape == (5, 17, 2)
    np.testing.assert_allclose(y[..., 0], ref.real, atol=1e-5)
    np.testing.assert_allclose(y[..., 1], ref.imag, atol=1e-5)


def test_hoplen_is_written_only_when_given():
    assert explicit_params(layer("Spectrogram", "s", ["x"], ["y"], {0: 16})) == [(0, 16)]
    assert explicit_params(layer("Spectrogram", "s", ["x"], ["y"], {0: 16, 2: 4})) == [(0, 16), (2, 4)]


@pytest.mark.parametrize("params,shape,match", [
    ({0: 0}, (32,), "n_fft"),
    ({0: 8, 1: 3}, (32,), "power"),
    ({0: 8, 4: 3}, (32,), "window_type"),
    ({0: 8, 3: 9}, (32,), "winlen"),
    ({0: 8}, (4, 32), "1-D"),
    ({0: 16}, (6,), "reflect"),
    ({0: 16, 5: 0}, (10,), "shorter than n_fft"),
])
def test_bad_params_are_refused_naming_the_layer(params, shape, match):
    with pytest.raises(NcnnlikeError, match=r"layer spec1 \(Spectrogram\).*" + match):
        run_layers([layer("Spectrogram", "spec1", ["x"], ["y"], params)], {"x": np.ones((1,) + shape, np.float32)})
