"""Staged execution: onnxruntime segments around a host (numpy) layer whose output size depends on
the data, with ragged per-sample outputs and segments after it run sample by sample."""
import types

import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers import base


def _keep_positive(layer_, p, bottoms):
    """Test host layer: the positive values of the flattened bottom, as a 1-D blob."""
    x = bottoms[0].reshape(-1)
    return [x[x > 0]]


def _broken(layer_, p, bottoms):
    raise ValueError("boom")


@pytest.fixture
def host_types(monkeypatch):
    registry = dict(base.registry())
    registry["KeepPositive"] = types.SimpleNamespace(TYPE="KeepPositive", PARAMS=(), HOST=True,
                                                     forward=_keep_positive)
    registry["Broken"] = types.SimpleNamespace(TYPE="Broken", PARAMS=(), HOST=True, forward=_broken)
    monkeypatch.setattr(base, "_REGISTRY", registry)


def graph_layers():
    return [layer("BinaryOp", "sub", ["x"], ["d"], {0: 1, 1: 1, 2: 0.5}),
            layer("KeepPositive", "keep", ["d"], ["k"]),
            layer("UnaryOp", "sq", ["k"], ["y"], {0: 4})]


def test_ragged_host_outputs_come_back_per_sample_and_later_layers_run_per_sample(host_types):
    x = np.array([[0.1, 0.9, 2.0, 0.7], [0.0, 0.2, 0.3, 0.4]], np.float32)
    out = run_layers(graph_layers(), {"x": x}, ["k", "y", "d"])
    assert isinstance(out["k"], list) and [len(k) for k in out["k"]] == [3, 0]
    np.testing.assert_allclose(out["k"][0], [0.4, 1.5, 0.2], rtol=1e-6)
    np.testing.assert_allclose(out["y"][0], np.square([0.4, 1.5, 0.2]), rtol=1e-6)
    assert out["y"][1].shape == (0,)
    assert isinstance(out["d"], np.ndarray) and out["d"].shape == (2, 4)


def test_uniform_host_outputs_are_stacked_into_a_batch_array(host_types):
    x = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]], np.float32)
    out = run_layers(graph_layers(), {"x": x}, ["y"])
    np.testing.assert_allclose(out["y"], [[0.25, 2.25], [6.25, 12.25]], rtol=1e-6)


def test_a_failing_host_layer_is_named(host_types):
    with pytest.raises(NcnnlikeError, match=r"layer bad \(Broken\): cannot run: boom"):
        run_layers([layer("Broken", "bad", ["x"], ["y"])], {"x": np.ones((1, 3), np.float32)})
