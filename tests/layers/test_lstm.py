"""LSTM layer: .bin layout, lowering vs a numpy reference of ncnn's maths (float, int8, projection,
states), and our written files in pip ncnn."""
import numpy as np
import pytest

from helpers import run_layers
from layers.recurrent_ref import (assert_matches_reference, assert_written_files_match_pip_ncnn, forward, make_layer,
                                  random_weights, run_ours_and_reference, run_pip_ncnn, specs)
from ncnnlike.errors import NcnnlikeError


def test_lstm_weights_follow_spec_layout():
    # size 8, hidden 16, bidirectional: xc 8*64*2, bias 16*4*2, hc 16*64*2
    assert specs("LSTM", {0: 16, 1: 8 * 16 * 4 * 2, 2: 2}) == [
        ("weight_xc_data", 1024, True), ("bias_c_data", 128, True), ("weight_hc_data", 2048, True)]


def test_lstm_projection_adds_weight_hr_and_int8_scales_are_raw_per_row():
    # num_output 6, hidden 10, size 8, forward: hc (6, 40), hr (10, 6), scales hidden*4 each
    assert specs("LSTM", {0: 6, 1: 8 * 10 * 4, 3: 10, 8: 2}) == [
        ("weight_xc_data", 320, True), ("bias_c_data", 40, True), ("weight_hc_data", 240, True),
        ("weight_hr_data", 60, True), ("weight_xc_data_int8_scales", 40, False),
        ("weight_hc_data_int8_scales", 40, False)]


@pytest.mark.parametrize("direction", [0, 1, 2])
def test_lstm_float_matches_ncnn_maths(direction):
    ours = assert_matches_reference("LSTM", direction, seed=direction)
    assert ours["y"].shape == (3, 5, 16 * (2 if direction == 2 else 1))


@pytest.mark.parametrize("direction", [0, 2])
def test_lstm_projection_runs_as_scan_and_matches_ncnn_maths(direction):
    ours = assert_matches_reference("LSTM", direction, seed=10, hidden=12, states=True)
    assert ours["c"].shape == (3, 2 if direction == 2 else 1, 12)


@pytest.mark.parametrize("direction", [1, 2])
def test_lstm_int8_quantizes_activations_per_step_like_ncnn(direction):
    rng = np.random.default_rng(20 + direction)
    ours, ref, _, _ = run_ours_and_reference("LSTM", direction, rng, int8=True)
    np.testing.assert_allclose(ours["y"], ref["y"], atol=2e-6)
    # the dequantized-weights float view differs: activations are not quantized there
    rng = np.random.default_rng(20 + direction)
    as_float, _, _, _ = run_ours_and_reference("LSTM", direction, rng, int8=True, use_int8=False)
    assert 1e-4 < np.abs(as_float["y"] - ref["y"]).max() < 0.1


def test_lstm_state_bottoms_and_tops_carry_hidden_and_cell():
    ours = assert_matches_reference("LSTM", 2, seed=30, states=True)
    assert ours["h"].shape == (3, 2, 16)


def test_lstm_single_step_one_dim_input_is_one_time_step():
    rng = np.random.default_rng(31)
    w = random_weights("LSTM", 8, 16, 1, rng)
    x = rng.standard_normal((2, 8)).astype(np.float32)
    y = run_layers([make_layer("LSTM", w, 0)], {"x": x})["y"]
    assert y.shape == (2, 1, 16)
    np.testing.assert_allclose(y[1], forward("LSTM", x[1:2], w, 0)[0], atol=1e-5)


@pytest.mark.parametrize("int8,hidden", [(False, None), (True, None), (False, 12), (True, 12)])
def test_lstm_written_files_match_pip_ncnn(tmp_path, int8, hidden):
    assert_written_files_match_pip_ncnn("LSTM", tmp_path, int8, hidden)


def test_lstm_int8_all_zero_time_step_matches_pip_ncnn(tmp_path):
    rng = np.random.default_rng(41)
    w = random_weights("LSTM", 8, 16, 1, rng, int8=True)
    x = rng.standard_normal((1, 5, 8)).astype(np.float32)
    x[0, 0] = 0   # ncnn: inf input scale, the row contributes nothing; hidden starts all zero too
    rnn = make_layer("LSTM", w, 0)
    ours = run_layers([rnn], {"x": x})["y"][0]
    theirs = run_pip_ncnn([rnn], {"x": x[0]}, ["y"], tmp_path)["y"]
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_lstm_int8_scale_term_with_float_weights_is_a_clear_error():
    rng = np.random.default_rng(50)
    w = random_weights("LSTM", 8, 16, 1, rng, int8=True)
    w["xc"] = w["xc"].astype(np.float32)
    with pytest.raises(NcnnlikeError, match="layer rnn .*weight_xc_data.* not stored as int8"):
        run_layers([make_layer("LSTM", w, 0)], {"x": np.zeros((1, 5, 8), np.float32)})


def test_lstm_input_with_channels_is_a_clear_error():
    w = random_weights("LSTM", 8, 16, 1, np.random.default_rng(51))
    with pytest.raises(NcnnlikeError, match="layer rnn: input blob 'x' must be 2-D"):
        run_layers([make_layer("LSTM", w, 0)], {"x": np.zeros((1, 2, 5, 8), np.float32)})


def test_lstm_with_two_bottoms_is_a_clear_error():
    w = random_weights("LSTM", 8, 16, 1, np.random.default_rng(52))
    rnn = make_layer("LSTM", w, 0, bottoms=("x", "h0"))
    with pytest.raises(NcnnlikeError, match="expected 1 or 3 bottoms"):
        run_layers([rnn], {"x": np.zeros((1, 5, 8), np.float32), "h0": np.zeros((1, 1, 16), np.float32)})
