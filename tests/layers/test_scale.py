"""Scale: per-axis scale and bias from weights, and the two-input x0*x1 form (0=-233)."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.layers.base import weight_specs


@pytest.mark.parametrize("shape,axis_shape", [((6,), (6,)), ((6, 5), (6, 1)), ((6, 4, 5), (6, 1, 1))])
def test_scale_and_bias_along_leading_axis(shape, axis_shape):
    rng = np.random.default_rng(0)
    s = rng.standard_normal(6).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    l = layer("Scale", "sc", ["x"], ["y"], {0: 6, 1: 1}, {"scale_data": s, "bias_data": b})
    y = run_layers([l], {"x": x})["y"]
    np.testing.assert_allclose(y, x * s.reshape(axis_shape) + b.reshape(axis_shape), rtol=1e-6, atol=1e-6)


def test_two_input_form_multiplies_by_second_blob_per_channel():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 3, 5)).astype(np.float32)
    s = rng.standard_normal((2, 4)).astype(np.float32)   # e.g. a squeeze-excite gate of shape (c,)
    l = layer("Scale", "sc", ["x", "s"], ["y"], {0: -233})
    y = run_layers([l], {"x": x, "s": s})["y"]
    np.testing.assert_allclose(y, x * s[:, :, None, None], rtol=1e-6)


def test_two_input_form_reads_no_weights():
    assert weight_specs(layer("Scale", "sc", ["x", "s"], ["y"], {0: -233})) == []
    specs = weight_specs(layer("Scale", "sc", ["x"], ["y"], {0: 8, 1: 1}))
    assert [(w.name, w.count, w.tagged) for w in specs] == [("scale_data", 8, False), ("bias_data", 8, False)]
