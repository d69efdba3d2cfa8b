"""Dropout: y = x * scale at inference."""
import numpy as np
import pytest

from helpers import layer, run_layers


@pytest.mark.parametrize("params,factor", [({}, 1.0), ({0: 0.5}, 0.5), ({0: 1.25}, 1.25)])
def test_output_is_input_times_scale(params, factor):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = run_layers([layer("Dropout", "d", ["x"], ["y"], params)], {"x": x})["y"]
    np.testing.assert_allclose(y, x * np.float32(factor), rtol=1e-6)
