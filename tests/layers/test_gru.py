"""GRU layer: .bin layout (4-row bias_c), lowering vs a numpy reference of ncnn's maths (reset gate
applied after the recurrent product, float, int8, states), and our written files in pip ncnn."""
import numpy as np
import pytest

from helpers import layer
from layers.recurrent_ref import cosine, random_weights, run_ours_and_reference, run_pip_ncnn
from ncnnlike.layers.base import weight_specs
from ncnnlike.layers.gru import from_onnx, onnx_weights
from ncnnlike.layers.recurrent import DirWeights


def specs(params):
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer("GRU", "g", ["x"], ["y"], params))]


def test_gru_weights_follow_spec_layout_with_four_bias_rows():
    # size 8, num_output 16, forward: xc 8*48, bias 16*4 (R, U, WN, BN), hc 16*48
    assert specs({0: 16, 1: 8 * 16 * 3}) == [
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
    ours, ref, _, _ = run_ours_and_reference("GRU", direction, np.random.default_rng(direction))
    assert ours["y"].shape == (3, 5, 16 * (2 if direction == 2 else 1))
    np.testing.assert_allclose(ours["y"], ref["y"], atol=1e-5)


@pytest.mark.parametrize("direction", [1, 2])
def test_gru_int8_quantizes_activations_per_step_like_ncnn(direction):
    ours, ref, _, _ = run_ours_and_reference("GRU", direction, np.random.default_rng(20), int8=True, states=True)
    for name in ("y", "h"):
        np.testing.assert_allclose(ours[name], ref[name], atol=2e-6)


def test_gru_state_bottom_and_top_carry_the_hidden_state():
    ours, ref, _, _ = run_ours_and_reference("GRU", 2, np.random.default_rng(30), states=True)
    for name in ("y", "h"):
        np.testing.assert_allclose(ours[name], ref[name], atol=1e-5)


@pytest.mark.parametrize("int8", [False, True])
def test_gru_written_files_match_pip_ncnn(tmp_path, int8):
    ours, _, rnn, inputs = run_ours_and_reference("GRU", 2, np.random.default_rng(40), int8=int8, states=True, batch=1)
    theirs = run_pip_ncnn([rnn], {k: v[0] for k, v in inputs.items()}, ["y", "h"], tmp_path)
    for name in ("y", "h"):
        assert cosine(ours[name][0], theirs[name]) >= 0.99999
        np.testing.assert_allclose(ours[name][0], theirs[name], atol=1e-5)
