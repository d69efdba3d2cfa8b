"""RNN layer: .bin layout, lowering vs a numpy reference of ncnn's maths (float, int8, states), and
our written files in pip ncnn."""
import numpy as np
import pytest

from helpers import layer
from layers.recurrent_ref import cosine, run_ours_and_reference, run_pip_ncnn
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs


def specs(params):
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer("RNN", "r", ["x"], ["y"], params))]


def test_rnn_weights_follow_spec_layout():
    # size 8, num_output 16, bidirectional, int8: xc 8*16*2, bias 16*2, hc 16*16*2, scales 16*2 raw
    assert specs({0: 16, 1: 8 * 16 * 2, 2: 2, 8: 2}) == [
        ("weight_xc_data", 256, True), ("bias_c_data", 32, True), ("weight_hc_data", 512, True),
        ("weight_xc_data_int8_scales", 32, False), ("weight_hc_data_int8_scales", 32, False)]


def test_rnn_zero_num_output_is_a_clear_error():
    with pytest.raises(NcnnlikeError, match="num_output"):
        specs({0: 0, 1: 8})


@pytest.mark.parametrize("direction", [0, 1, 2])
def test_rnn_float_matches_ncnn_maths(direction):
    ours, ref, _, _ = run_ours_and_reference("RNN", direction, np.random.default_rng(direction))
    assert ours["y"].shape == (3, 5, 16 * (2 if direction == 2 else 1))
    np.testing.assert_allclose(ours["y"], ref["y"], atol=1e-5)


@pytest.mark.parametrize("direction", [0, 2])
def test_rnn_int8_quantizes_activations_per_step_like_ncnn(direction):
    ours, ref, _, _ = run_ours_and_reference("RNN", direction, np.random.default_rng(20), int8=True, states=True)
    for name in ("y", "h"):
        np.testing.assert_allclose(ours[name], ref[name], atol=2e-6)


def test_rnn_state_bottom_and_top_carry_the_hidden_state():
    ours, ref, _, _ = run_ours_and_reference("RNN", 2, np.random.default_rng(30), states=True)
    for name in ("y", "h"):
        np.testing.assert_allclose(ours[name], ref[name], atol=1e-5)
    assert ours["h"].shape == (3, 2, 16)


@pytest.mark.parametrize("int8", [False, True])
def test_rnn_written_files_match_pip_ncnn(tmp_path, int8):
    ours, _, rnn, inputs = run_ours_and_reference("RNN", 2, np.random.default_rng(40), int8=int8, states=True, batch=1)
    theirs = run_pip_ncnn([rnn], {k: v[0] for k, v in inputs.items()}, ["y", "h"], tmp_path)
    for name in ("y", "h"):
        assert cosine(ours[name][0], theirs[name]) >= 0.99999
        np.testing.assert_allclose(ours[name][0], theirs[name], atol=1e-5)
