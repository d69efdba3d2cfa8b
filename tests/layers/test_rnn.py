"""RNN layer: .bin layout, lowering vs a numpy reference of ncnn's maths (float, int8, states), and
our written files in pip ncnn."""
import pytest

from layers.recurrent_ref import assert_matches_reference, assert_written_files_match_pip_ncnn, specs
from ncnnlike.errors import NcnnlikeError


def test_rnn_weights_follow_spec_layout():
    # size 8, num_output 16, bidirectional, int8: xc 8*16*2, bias 16*2, hc 16*16*2, scales 16*2 raw
    assert specs("RNN", {0: 16, 1: 8 * 16 * 2, 2: 2, 8: 2}) == [
        ("weight_xc_data", 256, True), ("bias_c_data", 32, True), ("weight_hc_data", 512, True),
        ("weight_xc_data_int8_scales", 32, False), ("weight_hc_data_int8_scales", 32, False)]


def test_rnn_zero_num_output_is_a_clear_error():
    with pytest.raises(NcnnlikeError, match="num_output"):
        specs("RNN", {0: 0, 1: 8})


@pytest.mark.parametrize("direction", [0, 1, 2])
def test_rnn_float_matches_ncnn_maths(direction):
    ours = assert_matches_reference("RNN", direction, seed=direction)
    assert ours["y"].shape == (3, 5, 16 * (2 if direction == 2 else 1))


@pytest.mark.parametrize("direction", [0, 2])
def test_rnn_int8_quantizes_activations_per_step_like_ncnn(direction):
    assert_matches_reference("RNN", direction, seed=20, atol=2e-6, int8=True, states=True)


def test_rnn_state_bottom_and_top_carry_the_hidden_state():
    ours = assert_matches_reference("RNN", 2, seed=30, states=True)
    assert ours["h"].shape == (3, 2, 16)


@pytest.mark.parametrize("int8", [False, True])
def test_rnn_written_files_match_pip_ncnn(tmp_path, int8):
    assert_written_files_match_pip_ncnn("RNN", tmp_path, int8)
