"""LayerNorm: which dims are normalised, eps default 0.001, affine gamma/beta and their .bin specs."""
import numpy as np
import pytest
from helpers import layer, run_layers

from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)


def layernorm_ref(x, k, eps, gamma=None, beta=None):
    axes = tuple(range(x.ndim - k, x.ndim))
    v = x.astype(np.float64)
    y = (v - v.mean(axes, keepdims=True)) / np.sqrt(v.var(axes, keepdims=True) + eps)
    return y if gamma is None else y * gamma + beta


@pytest.mark.parametrize("shape,affine_size,k", [
    ((5,), 5, 1), ((4, 5), 5, 1), ((3, 4, 5), 5, 1), ((3, 4, 5), 20, 2),
    ((2, 3, 4, 5), 5, 1), ((2, 3, 4, 5), 20, 2), ((2, 3, 4, 5), 60, 3),
])
def test_affine_layernorm_normalises_innermost_dims(shape, affine_size, k):
    x = RNG.standard_normal((2,) + shape).astype(np.float32) * 3 + 1
    gamma = RNG.standard_normal(affine_size).astype(np.float32)
    beta = RNG.standard_normal(affine_size).astype(np.float32)
    lay = layer("LayerNorm", "ln", ["x"], ["y"], {0: affine_size, 1: 1e-5},
                {"gamma_data": gamma, "beta_data": beta})
    y = run_layers([lay], {"x": x})["y"]
    inner = shape[len(shape) - k:]
    ref = layernorm_ref(x, k, 1e-5, gamma.reshape(inner), beta.reshape(inner))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_default_eps_is_0_001_without_affine():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32) * 0.05
    y = run_layers([layer("LayerNorm", "ln", ["x"], ["y"], {0: 4, 2: 0})], {"x": x})["y"]
    np.testing.assert_allclose(y, layernorm_ref(x, 1, 0.001), rtol=1e-4, atol=1e-5)


def test_bin_holds_gamma_then_beta_only_when_affine():
    specs = weight_specs(layer("LayerNorm", "ln", ["x"], ["y"], {0: 8}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("gamma_data", 8, False), ("beta_data", 8, False)]
    assert weight_specs(layer("LayerNorm", "ln", ["x"], ["y"], {0: 8, 2: 0})) == []
