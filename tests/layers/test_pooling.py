"""Pooling lowering vs a numpy port of ncnn's pooling.cpp loops, and vs pip ncnn: full mode, the crops
of negative SAME borders, 2-D bottoms; the geometry ncnn runs out of bounds (or packs wrongly) raises."""
import numpy as np
import pytest

from helpers import layer, run_layers
from oracle import check_ncnn
from ncnnlike.errors import NcnnlikeError

FLT_MAX = np.float32(3.4028234663852886e38)


def c_div(a, b):
    return int(a / b)


def ref_borders(size, k, s, lo, hi, mode):
    if mode == 0:
        tail = (size + lo + hi - k) - s * c_div(size + lo + hi - k, s)
        tp = s - tail if tail else 0
        return lo, hi + tp, tp
    if mode == 1:
        return lo, hi, 0
    total = k + (size - 1) // s * s - size
    a, b = max(c_div(total, 2), 0), max(total - c_div(total, 2), 0)
    return (a, b, 0) if mode == 2 else (b, a, 0)


def ref_pool(x, kind, k, s, pads, mode, include_pad):
    """One sample (c, h, w); pads = (top, bottom, left, right); literal ncnn loops."""
    c, h, w = x.shape
    t, b, ht = ref_borders(h, k[0], s[0], pads[0], pads[1], mode)
    l, r, wt = ref_borders(w, k[1], s[1], pads[2], pads[3], mode)
    fill = -FLT_MAX if kind == 0 else 0.0
    xb = np.full((c, h + t + b, w + l + r), fill, np.float32)
    xb[:, t:t + h, l:l + w] = x
    H, W = xb.shape[1:]
    oh, ow = (H - k[0]) // s[0] + 1, (W - k[1]) // s[1] + 1
    y = np.zeros((c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            win = xb[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            if kind == 0:
                y[:, i, j] = win.max(axis=(1, 2))
            elif include_pad:
                y[:, i, j] = win.sum(axis=(1, 2)) / (k[0] * k[1])
            else:
                rows = [sy for sy in range(i * s[0], i * s[0] + k[0]) if pads[0] <= sy < H - pads[1] - ht]
                cols = [sx for sx in range(j * s[1], j * s[1] + k[1]) if pads[2] <= sx < W - pads[3] - wt]
                y[:, i, j] = xb[:, rows][:, :, cols].sum(axis=(1, 2)) / (len(rows) * len(cols))
    return y


def pool_params(kind, k, s, pads, mode, include_pad=0):
    return {0: kind, 1: k[1], 11: k[0], 2: s[1], 12: s[0], 3: pads[2], 13: pads[0], 14: pads[3], 15: pads[1],
            5: mode, 6: include_pad}


def run_pool(params, x):
    out = run_layers([layer("Pooling", "pool", ["x"], ["y"], params)], {"x": x})
    return out["y"]


CASES = [
    # kind, kernel (h, w), stride (h, w), pads (t, b, l, r), mode, include_pad
    (0, (3, 3), (2, 2), (1, 1, 1, 1), 0, 0),
    (1, (3, 3), (2, 2), (1, 1, 1, 1), 0, 0),
    (1, (3, 2), (2, 3), (0, 1, 1, 0), 0, 1),
    (1, (2, 2), (2, 2), (0, 0, 0, 0), 0, 0),
    (0, (3, 3), (2, 2), (1, 0, 0, 1), 1, 0),
    (1, (3, 3), (1, 1), (1, 1, 1, 1), 1, 0),
    (1, (3, 3), (2, 2), (0, 0, 0, 0), 2, 0),
    (1, (3, 3), (2, 2), (0, 0, 0, 0), 3, 1),
    (0, (2, 3), (2, 2), (0, 0, 0, 0), 3, 0),
    (0, (1, 1), (2, 2), (0, 0, 0, 0), 2, 0),
]


@pytest.mark.parametrize("kind,k,s,pads,mode,include_pad", CASES)
def test_pooling_windows_match_ncnn_loops(kind, k, s, pads, mode, include_pad):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 10)).astype(np.float32)
    y = run_pool(pool_params(kind, k, s, pads, mode, include_pad), x)
    ref = np.stack([ref_pool(xi, kind, k, s, pads, mode, include_pad) for xi in x])
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_full_mode_adds_tail_pad_so_last_window_fits():
    x = np.zeros((2, 1, 6, 6), np.float32)
    y = run_pool({0: 0, 1: 3, 2: 2}, x)   # (6 - 3) % 2 = 1 -> one extra column/row: 3x3 out, not 2x2
    assert y.shape == (2, 1, 3, 3)


def test_global_pooling_outputs_1d_blob_of_channels():
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6)).astype(np.float32)
    y_max = run_pool({0: 0, 4: 1}, x)
    y_avg = run_pool({0: 1, 4: 1}, x)
    assert y_max.shape == (2, 4)
    np.testing.assert_allclose(y_max, x.max(axis=(2, 3)), rtol=1e-6)
    np.testing.assert_allclose(y_avg, x.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", [0, 1])
def test_adaptive_pooling_uses_floor_ceil_windows(kind):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 10)).astype(np.float32)
    y = run_pool({0: kind, 7: 1, 8: 4, 18: 3}, x)
    ref = np.zeros((2, 3, 3, 4), np.float32)
    for i in range(3):
        h0, h1 = 7 * i // 3, (7 * (i + 1) + 2) // 3
        for j in range(4):
            w0, w1 = 10 * j // 4, (10 * (j + 1) + 3) // 4
            win = x[:, :, h0:h1, w0:w1]
            ref[:, :, i, j] = win.max(axis=(2, 3)) if kind == 0 else win.mean(axis=(2, 3))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_2d_bottom_pools_as_one_channel():
    x = np.random.default_rng(3).standard_normal((2, 6, 8)).astype(np.float32)
    y = run_pool({0: 0, 1: 2, 2: 2}, x)
    assert y.shape == (2, 1, 3, 4)
    np.testing.assert_allclose(y[:, 0], x.reshape(2, 3, 2, 4, 2).max(axis=(2, 4)))


def ncnn_pool(param_line, x):
    """Run one Pooling layer in pip ncnn on one (c, h, w) sample."""
    ncnn = pytest.importorskip("ncnn")
    text = "7767517\n2 2\nInput in 0 1 x 0=%d 1=%d 2=%d\nPooling pool 1 1 x y %s\n" % (
        x.shape[2], x.shape[1], x.shape[0], param_line)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_storage = False    # pip ncnn stores some weights/blobs as fp16 on x86 by default
    net.opt.use_bf16_storage = False
    net.load_param_mem(text)
    net.load_model_mem(b"")
    arr = np.ascontiguousarray(x)
    ex = net.create_extractor()
    ex.input("x", ncnn.Mat(arr))
    _, out = ex.extract("y")
    return np.array(out)


@pytest.mark.parametrize("line,params", [
    ("0=0 1=3 2=2 3=1", {0: 0, 1: 3, 2: 2, 3: 1}),
    ("0=1 1=3 2=2 3=1", {0: 1, 1: 3, 2: 2, 3: 1}),
    ("0=1 1=3 2=2 5=2", {0: 1, 1: 3, 2: 2, 5: 2}),
])
def test_pooling_matches_pip_ncnn(line, params):
    x = np.random.default_rng(4).standard_normal((3, 7, 10)).astype(np.float32)
    ref = ncnn_pool(line, x)
    y = run_pool(params, x[None])[0]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def check(params, x, tmp_path):
    exact = "0=0" in params
    check_ncnn("Input in 0 1 x\nPooling p 1 1 x y " + params, {"x": x}, tmp_path,
               atol=0 if exact else 1e-6, rtol=0 if exact else 1e-6)


X3 = np.random.default_rng(5).standard_normal((3, 7, 6)).astype(np.float32)


@pytest.mark.parametrize("kind", [0, 1])
@pytest.mark.parametrize("params", [
    "1=1 11=3 2=2 5=3",               # SAME_LOWER, w total -1: ncnn crops the first column
    "1=1 11=3 2=2 5=3 6=1",           # ... counting the pads
    "1=3 11=1 2=2 12=2 5=3",          # SAME_LOWER, h total -1 (h = 8): ncnn drops the last row
    "1=2 11=3 2=3 12=2 5=3",          # kernel_w 2 < stride_w 3: first column cropped, 2-wide windows
])
def test_negative_same_borders_match_ncnn(kind, params, tmp_path):
    x = X3 if "11=3" in params else np.random.default_rng(6).standard_normal((3, 8, 7)).astype(np.float32)
    check("0=%d %s" % (kind, params), x, tmp_path)


@pytest.mark.parametrize("params,shape", [
    ("0=0 1=2 2=2", (6, 8)),                      # a 2-D bottom pools as one channel
    ("0=1 1=3 2=2 5=2", (7, 10)),
    ("0=1 1=1 11=3 2=2 5=3", (7, 6)),             # ... with a negative SAME border
    ("0=1 4=1", (7, 6)),                          # global: one value
    ("0=1 7=1 8=-233 18=-233", (8, 6)),           # adaptive to the same size: the 2-D bottom itself
    ("0=0 7=1 8=3 18=-233", (8, 6)),              # adaptive (ncnn does not pack adaptive bottoms)
])
def test_two_d_bottom_matches_ncnn(params, shape, tmp_path):
    check(params, np.random.default_rng(7).standard_normal(shape).astype(np.float32), tmp_path)


@pytest.mark.parametrize("params,shape,message", [
    ({0: 0, 1: 1, 11: 3, 2: 2, 5: 2}, (3, 7, 6), "negative right border"),    # ncnn writes past its blob
    ({0: 0, 1: 3, 11: 1, 2: 2, 5: 2}, (3, 8, 7), "negative bottom border"),
    ({0: 1, 1: 1, 11: 3, 2: 2, 5: 3}, (3, 7, 12), "negative left border"),    # row memcpy overwrites
    ({0: 1, 1: 1, 11: 3, 2: 2, 5: 3}, (4, 7, 6), "channel-packed"),           # x86 packed Padding overruns
    ({0: 0, 1: 2, 2: 2}, (8, 8), "2-D bottom of h = 8"),                      # x86 pools packed rows
    ({0: 1, 4: 1}, (12, 5), "2-D bottom of h = 12"),
    ({0: 0, 1: 3, 3: -1}, (3, 7, 6), "must be >= 0"),
])
def test_bad_geometry_raises_naming_the_layer(params, shape, message):
    with pytest.raises(NcnnlikeError, match="pool.*Pooling.*" + message):
        run_pool(params, np.zeros((2,) + shape, np.float32))
