"""Interp: nearest / bilinear / bicubic with ncnn's coordinates, sizes, scales and blob ranks.

The reference below is interp.cpp's maths written as plain loops; the pinned numbers were measured
with pip ncnn 1.0.20261020 (scale-given resizes step by 1/scale, not by w/outw).
"""
import math

import numpy as np
import pytest
from helpers import layer, run_layers

RNG = np.random.default_rng(0)


def coords(size, out, step, align):
    """(index, fraction) per output position (linear_coeffs / cubic_coeffs)."""
    res = []
    for d in range(out):
        f = d * (size - 1) / (out - 1) if align else (d + 0.5) * step - 0.5
        f = float(np.float32(f))
        s = math.floor(f)
        res.append((s, f - s))
    return res


def weights_1d(kind, size, out, step, align):
    """Matrix (out, size) of interpolation weights along one axis."""
    m = np.zeros((out, size))
    for d, (s, f) in enumerate(coords(size, out, step, align)):
        if kind == 1:
            m[d, min(int(np.float32(d) * np.float32(step)), size - 1)] = 1
        elif kind == 2:
            s0, f0 = (0, 0.0) if s < 0 else (s, f)
            s0, f0 = (size - 2, 1.0) if s0 >= size - 1 else (s0, f0)
            m[d, s0] += 1 - f0
            m[d, s0 + 1] += f0
        else:
            a = -0.75
            taps = [f + 1, f, 1 - f, 2 - f]
            for k, t in zip((-1, 0, 1, 2), taps):
                w = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a if t > 1 else ((a + 2) * t - (a + 3)) * t * t + 1
                m[d, min(max(s + k, 0), size - 1)] += w
    return m


def interp(x, params, extra=None):
    inputs = {"x": x, **(extra or {})}
    return run_layers([layer("Interp", "i", list(inputs), ["y"], params)], inputs)["y"]


@pytest.mark.parametrize("kind", [1, 2, 3])
@pytest.mark.parametrize("params,out_hw,steps", [
    ({1: 2.0, 2: 2.0}, (16, 12), (0.5, 0.5)),
    ({3: 7, 4: 9}, (7, 9), (8 / 7, 6 / 9)),
    ({1: 0.5, 2: 0.75}, (4, 4), (2.0, 1 / 0.75)),
    ({1: 1.7, 2: 2.3}, (13, 13), (1 / 1.7, 1 / 2.3)),
])
def test_3d_resize_matches_reference(kind, params, out_hw, steps):
    x = RNG.standard_normal((2, 3, 8, 6)).astype(np.float32)
    y = interp(x, {0: kind, **params})
    wy = weights_1d(kind, 8, out_hw[0], steps[0], False)
    wx = weights_1d(kind, 6, out_hw[1], steps[1], False)
    np.testing.assert_allclose(y, np.einsum("oh,nchw,pw->ncop", wy, x, wx), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("kind", [2, 3])
def test_align_corner_maps_corners_to_corners(kind):
    x = RNG.standard_normal((2, 3, 8, 6)).astype(np.float32)
    y = interp(x, {0: kind, 3: 5, 4: 11, 6: 1})
    wy, wx = weights_1d(kind, 8, 5, 0, True), weights_1d(kind, 6, 11, 0, True)
    np.testing.assert_allclose(y, np.einsum("oh,nchw,pw->ncop", wy, x, wx), rtol=1e-5, atol=2e-5)
    np.testing.assert_allclose(y[:, :, [0, -1]][:, :, :, [0, -1]], x[:, :, [0, -1]][:, :, :, [0, -1]], atol=1e-6)


def test_pinned_pip_ncnn_values_for_scale_and_size():
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 1, 6) * 10
    np.testing.assert_allclose(interp(x, {0: 2, 2: 0.75}).ravel(), [1.6666667, 15, 28.333332, 41.666664], rtol=1e-6)
    np.testing.assert_allclose(interp(x, {0: 2, 3: 1, 4: 4}).ravel(), [2.5, 17.5, 32.5, 47.5], rtol=1e-6)
    np.testing.assert_array_equal(interp(x, {0: 1, 2: 0.75}).ravel(), [0, 10, 20, 40])
    ref = np.zeros((1, 2, 1, 4), np.float32)
    np.testing.assert_array_equal(interp(x, {0: 1, 5: 1}, {"ref": ref}).ravel(), [0, 10, 30, 40])


def test_2d_blob_resizes_only_w():
    x = RNG.standard_normal((2, 5, 7)).astype(np.float32)
    y = interp(x, {0: 2, 1: 3.0, 2: 0.7})
    assert y.shape == (2, 5, 4)
    np.testing.assert_allclose(y, x @ weights_1d(2, 7, 4, 1 / 0.7, False).T, rtol=1e-5, atol=1e-6)


def test_1d_blob_becomes_filled_channels():
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    y = interp(x, {0: 2, 1: 2.0, 2: 3.0})
    assert y.shape == (2, 4, 2, 3)
    np.testing.assert_array_equal(y, np.broadcast_to(x[:, :, None, None], (2, 4, 2, 3)))


def test_dynamic_target_size_and_size_expr():
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    ref = np.zeros((2, 2, 7, 9), np.float32)
    y = interp(x, {0: 2, 5: 1}, {"ref": ref})
    assert y.shape == (2, 3, 7, 9)
    y = interp(x, {0: 3, 9: "*(0w,2),+(0h,3)"})
    assert y.shape == (2, 3, 7, 10)
