"""GRU layer: .bin layout (4-row bias_c), lowering vs a numpy reference of ncnn's maths (reset gate
applied after the recurrent product, float, int8, states), and our written files in pip ncnn."""
import numpy as np
import pytest

from layers.recurrent_ref import (assert_matches_reference, assert_written_files_match_pip_ncnn, random_weights,
                                  specs)
from ncnnlike.layers.gru import from_onnx, onnx_weights
from ncnnlike.layers.recurrent import DirWeights


def test_gru_weights_follow_spec_layout_with_four_bias_rows():
    # size 8, num_output 16, forward: xc 8*48, bias 16*4 (R, U, WN, BN), hc 16*48
    assert specs("GRU", {0: 16, 1: 8 * 16 * 3}) == [
        ("weight_xc_data", 384, True), ("bias_c_data", 64, True), ("weight_hc_data", 768, True)]


def test_gru_onnx_weights_round_trip_gate_order_and_biases():
    w = random_weights("GRU", 8, 16, 1, np.random.default_rng(1))
    dw = DirWeights(w["xc"][0], w["bias"][0], w["hc"][0])
    W, R, B = onnx_weights(dw)
    np.testing.assert_array_equal(W[:16], w["xc"][0, 16:32])   # ONNX z = ncnn U
    np.testing.assert_array_equal(B[80:], w["bias"][0, 3])      # ONNX Rb_h = ncnn BN
    xc, bias, hc = from_onnx(W, R, B)
    np.testing.assert_array_equal(xc, w["xc"][0])
    np.testing.assert_array_equal(hc, w["hc"][0])
    np.testing.assert_array_equal(bias, w["bias"][0])


@pytest.mark.parametrize("direction", [0, 1, 2])
def test_gru_float_matches_ncnn_maths(direction):
    ours = assert_matches_reference("GRU", direction, seed=direction)
    assert ours["y"].shape == (3, 5, 16 * (2 if direction == 2 else 1))


@pytest.mark.parametrize("direction", [1, 2])
def test_gru_int8_quantizes_activations_per_step_like_ncnn(direction):
    assert_matches_reference("GRU", direction, seed=20, atol=2e-6, int8=True, states=True)


def test_gru_state_bottom_and_top_carry_the_hidden_state():
    assert_matches_reference("GRU", 2, seed=30, states=True)


@pytest.mark.parametrize("int8", [False, True])
def test_gru_written_files_match_pip_ncnn(tmp_path, int8):
    assert_written_files_match_pip_ncnn("GRU", tmp_path, int8)
