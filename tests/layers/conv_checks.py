"""Checks the convolution-family tests share: a layer's .bin requests and written param ids, a
lowering refused with an error naming the layer, and explicit float buffers."""
import numpy as np
import pytest

from helpers import layer, run_layers
from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import explicit_params, weight_specs

# every fused activation_type (1..6) with the activation_params it needs, as .param tokens
ACTIVATIONS = ["9=1", "9=2 -23310=1,1.000000e-01", "9=3 -23310=2,-5.000000e-01,5.000000e-01",
               "9=4", "9=5", "9=6 -23310=2,2.000000e-01,5.000000e-01"]


def bin_specs(l):
    """The layer's .bin requests as (name, count, tagged)."""
    return [(s.name, s.count, s.tagged) for s in weight_specs(l)]


def written_ids(l):
    """The param ids the writer emits for the layer, in order."""
    return [pid for pid, _ in explicit_params(l)]


def assert_refused(type_, name, params, x, message):
    """A `type_` layer `name` with `params` (zero weights of 6=weight_data_size values) refuses to
    run on the batch x with an NcnnlikeError naming the layer, its type and `message`."""
    l = layer(type_, name, ["x"], ["y"], params, {"weight_data": np.zeros(params[6], np.float32)})
    with pytest.raises(NcnnlikeError, match="%s.*%s.*%s" % (name, type_, message)):
        run_layers([l], {"x": x})


def float_buffers(size, num_output, bias=True, seed=3, std=0.3, name="de"):
    """Explicit float buffers for layer `name`: weight_data of `size` values, bias_data. The
    deconvolution tests pass them because the oracle's random filler takes 18=output_pad_right for
    an int8 flag (io/random_weights.py INT8_FLAGS) and would write int8 weights."""
    rng = np.random.default_rng(seed)
    buffers = {"weight_data": rng.normal(0, std, size).astype(np.float32)}
    if bias:
        buffers["bias_data"] = rng.normal(0, 0.5, num_output).astype(np.float32)
    return {name: buffers}
