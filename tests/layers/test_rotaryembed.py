"""RotaryEmbed: half-split and interleaved rotation of (heads, seqlen, embed_dim) by cos/sin caches,
checked against pip ncnn. Tolerance 1e-6: pip ncnn's x86 kernel fuses the products into FMAs."""
import numpy as np
import pytest
from helpers import layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)
LINES = """
Input in0 0 1 x
Input in1 0 1 cos
Input in2 0 1 sin
RotaryEmbed rope 3 1 x cos sin y %s
"""


def caches(rows, cols):
    """cos and sin of random angles, shaped (rows, cols)."""
    angle = RNG.uniform(-np.pi, np.pi, (rows, cols)).astype(np.float32)
    return np.cos(angle), np.sin(angle)


def run(tmp_path, x, cos, sin, params=""):
    return check_ncnn(LINES % params, {"x": x, "cos": cos, "sin": sin}, tmp_path, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("embed_dim", [8, 70])   # 70: AVX-512 blocks, then the SSE and scalar tails
def test_3d_heads_match_pip_ncnn(tmp_path, interleaved, embed_dim):
    cos, sin = caches(5, embed_dim // 2)
    run(tmp_path, RNG.standard_normal((3, 5, embed_dim)).astype(np.float32), cos, sin, "0=%d" % interleaved)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_2d_x_and_larger_caches_use_the_leading_rows_and_columns(tmp_path, interleaved):
    cos, sin = caches(9, 11)
    run(tmp_path, RNG.standard_normal((4, 12)).astype(np.float32), cos, sin, "0=%d" % interleaved)


def test_1d_x_with_1d_caches(tmp_path):
    cos, sin = caches(1, 6)
    run(tmp_path, RNG.standard_normal(12).astype(np.float32), cos[0], sin[0], "0=1")


def test_half_split_formula():
    x = RNG.standard_normal((2, 1, 3, 4)).astype(np.float32)
    cos, sin = caches(3, 2)
    batch = lambda a: np.stack([a, a])
    y = run_layers([layer("RotaryEmbed", "r", ["x", "c", "s"], ["y"])], {"x": x, "c": batch(cos), "s": batch(sin)})["y"]
    x0, x1 = x[..., :2], x[..., 2:]
    np.testing.assert_allclose(y, np.concatenate([x0 * cos - x1 * sin, x0 * sin + x1 * cos], -1), atol=1e-6)


@pytest.mark.parametrize("x_shape,cache_shape,what", [
    ((2, 3, 5), (3, 2), "even embed_dim"), ((2, 3, 8), (2, 4), "h >= seqlen 3"),
    ((2, 3, 8), (3, 3), "w >= embed_dim/2 4"), ((1, 2, 3, 8), (3, 4), "1-D to 3-D")])
def test_bad_shapes_raise(x_shape, cache_shape, what):
    inputs = {"x": np.zeros((1,) + x_shape, np.float32), "c": np.zeros((1,) + cache_shape, np.float32),
              "s": np.zeros((1,) + cache_shape, np.float32)}
    with pytest.raises(NcnnlikeError, match="layer r .RotaryEmbed.*" + what):
        run_layers([layer("RotaryEmbed", "r", ["x", "c", "s"], ["y"])], inputs)
