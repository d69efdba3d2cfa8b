"""GridSample: bilinear / nearest / bicubic, zeros / border / reflection padding, align_corner,
permute_fusion, 2-D and 3-D grids, checked against pip ncnn.

Nearest is pure data movement (exact); bilinear agrees to float rounding (3e-6 on values up to
4); bicubic to 2e-5 (its weights cancel, and pip ncnn fuses the multiply-adds). Grids reach past
[-1, 1] so padding matters; "far" grids (|g| up to 4) reach where ncnn's single reflection and its x86 scalar-tail
clamp differ from PyTorch / onnxruntime.
"""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.gridsample import x86_tail_points

RNG = np.random.default_rng(0)
BILINEAR, NEAREST, BICUBIC = 1, 2, 3
TOL = {BILINEAR: 3e-6, NEAREST: 0, BICUBIC: 2e-5}
LINES = "Input in0 0 1 x\nInput in1 0 1 g\nGridSample gs 2 1 x g y 0=%d 1=%d 2=%d 3=%d\n"


def check(tmp_path, image, grid_shape, st, pm, ac, pf, limit=1.6):
    x = RNG.standard_normal(image).astype(np.float32)
    g = RNG.uniform(-limit, limit, grid_shape).astype(np.float32)
    tol = TOL[st]
    return check_ncnn(LINES % (st, pm, ac, pf), {"x": x, "g": g}, tmp_path, atol=tol, rtol=tol)


@pytest.mark.parametrize("ac", [0, 1])
@pytest.mark.parametrize("pm", [1, 2, 3])
@pytest.mark.parametrize("st", [BILINEAR, NEAREST, BICUBIC])
def test_2d_matches_pip_ncnn(tmp_path, st, pm, ac):
    pf = (pm + ac) % 2     # the grid layout: each (st, pm) sees both
    check(tmp_path, (3, 6, 9), (2, 5, 7) if pf else (5, 7, 2), st, pm, ac, pf)


@pytest.mark.parametrize("ac", [0, 1])
@pytest.mark.parametrize("pm", [1, 2, 3])
@pytest.mark.parametrize("st", [BILINEAR, NEAREST])
def test_3d_matches_pip_ncnn(tmp_path, st, pm, ac):
    pf = (pm + ac) % 2
    check(tmp_path, (4, 5, 6, 7), (3, 3, 4, 5) if pf else (3, 4, 5, 3), st, pm, ac, pf)


@pytest.mark.parametrize("st", [BILINEAR, NEAREST, BICUBIC])
@pytest.mark.parametrize("pf", [0, 1])
def test_far_grids_with_reflection_follow_ncnn_x86(tmp_path, st, pf):
    # outw 10: 8 points in the x86 AVX loop, 2 in its scalar tail, which alone clamps the reflection
    check(tmp_path, (16, 6, 9), (2, 3, 10) if pf else (3, 10, 2), st, 3, 1, pf, limit=4)
    check(tmp_path, (16, 6, 9), (2, 3, 10) if pf else (3, 10, 2), st, 3, 0, pf, limit=4)


@pytest.mark.parametrize("st", [BILINEAR, NEAREST])
def test_far_3d_grids_with_reflection_follow_ncnn_x86(tmp_path, st):
    check(tmp_path, (4, 5, 6, 7), (2, 3, 5, 3), st, 3, 1, 0, limit=4)


def test_nearest_half_pixel_ties_round_up_like_ncnn(tmp_path):
    # x = ((g+1)*8 - 1)/2 = k + 0.5 exactly: ncnn takes floor(x + 0.5) = k + 1 (onnxruntime: even)
    g = np.zeros((1, 8, 2), np.float32)
    g[0, :, 0] = (np.arange(8) + 1) / 4 - 1
    x = RNG.standard_normal((2, 3, 8)).astype(np.float32)
    outs = check_ncnn(LINES % (NEAREST, 1, 0, 0), {"x": x, "g": g}, tmp_path, atol=0, rtol=0)
    ours = outs["y"][0][0]
    np.testing.assert_array_equal(ours[:, 0, :7], x[:, 1, 1:])


def test_x86_tail_points():
    assert x86_tail_points((3, 10), 0).reshape(3, 10)[:, 8:].all()
    assert not x86_tail_points((3, 10), 0).reshape(3, 10)[:, :8].any()
    assert x86_tail_points((3, 10), 1).sum() == 30 - 24


@pytest.mark.parametrize("params,image,grid,what", [
    ({0: 4}, (3, 4, 4), (4, 4, 2), "sample_type .0=. and padding_mode .1=. must be 1..3"),
    ({1: 0}, (3, 4, 4), (4, 4, 2), "must be 1..3"),
    ({0: 3}, (2, 3, 4, 4), (3, 4, 4, 3), "bicubic .0=3. is not supported on a 4-D image"),
    ({}, (3, 4, 4), (4, 4, 3), r"grid shape \(4, 4, 3\) does not fit a 3-D image"),
    ({3: 1}, (3, 4, 4), (4, 4, 2), "with permute_fusion"),
    ({}, (4, 4), (4, 4, 2), "must be 3-D or 4-D"),
])
def test_bad_params_and_shapes_raise(params, image, grid, what):
    inputs = {"x": np.zeros((1,) + image, np.float32), "g": np.zeros((1,) + grid, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer gs .GridSample.: .*" + what):
        run_layers([layer("GridSample", "gs", ["x", "g"], ["y"], params)], inputs)
