"""Seeded random weights sized from the layer params, for models shipped without a .bin.

ncnn's own benchmark networks come as .param only (benchncnn runs them on empty weights), and
ncnnoptimize / ncnn2int8 accept `null` for the .bin (uniform in [-1.2, 1.2]). Uniform weights make
deep nets blow up or vanish, so these follow the layer: a weight blob is scaled by its fan-in
(He init, count / num_output inputs per output), variances and int8 scales are positive, and the
int8 weights of a pre-quantized layer are int8 values with per-row scales that decode to the same
magnitude. Any model then runs to finite outputs in ncnn and in ours, which is what parity needs.
"""
import numpy as np

from ncnnlike.layers.base import weight_specs

ACTIVATION_ABSMAX = 4.0       # a bottom_blob_int8_scales of 127/4: activations of order 1


def _fan_in(layer, count):
    """Inputs per output of a weight blob: count / num_output (param 0) when that divides."""
    num_output = layer.params.get(0, 0)
    if isinstance(num_output, int) and num_output > 0 and count % num_output == 0:
        return max(count // num_output, 1)
    return max(count, 1)


def _int8_buffers(specs):
    """Tagged buffers stored as int8: those with a `<name>_int8_scale(s)` buffer beside them (the
    layer's int8 flag is on exactly when its .bin carries such scales)."""
    scaled = [s.name for s in specs if "_int8_scale" in s.name]
    return {s.name for s in specs if s.tagged and any(n.startswith(s.name + "_int8_scale") for n in scaled)}


def _float_buffer(rng, layer, spec):
    """One float32 buffer; its distribution chosen by what the buffer is."""
    name = spec.name
    if "var" in name:   # with slope below: each BatchNorm keeps the variance (gain ~1.02)
        return rng.uniform(0.9, 1.1, spec.count)
    if "int8_scale" in name or name.endswith("_scales") or name.endswith("_scale"):
        if "bottom" in name or "top" in name or "blob" in name:
            return rng.uniform(0.8, 1.2, spec.count) * (127 / ACTIVATION_ABSMAX)
        return rng.uniform(0.8, 1.2, spec.count) * 127 / (3 * np.sqrt(2.0 / _fan_in(layer, spec.count)))
    if "slope" in name or "gamma" in name or name.startswith("scale"):
        return rng.uniform(0.8, 1.2, spec.count)
    if "bias" in name or "beta" in name or "mean" in name:
        return rng.normal(0, 0.1, spec.count)
    if spec.tagged:
        return rng.normal(0, np.sqrt(2.0 / _fan_in(layer, spec.count)), spec.count)
    return rng.normal(0, 0.5, spec.count)


def fill_random(graph, seed=0):
    """Give every layer of `graph` seeded random weights matching its .bin specs (in place)."""
    rng = np.random.default_rng(seed)
    for layer in graph.layers:
        specs = weight_specs(layer)
        int8 = _int8_buffers(specs)
        weights = {}
        for spec in specs:
            if spec.name in int8:
                values = np.clip(np.rint(rng.normal(0, 127 / 3, spec.count)), -127, 127).astype(np.int8)
            else:
                values = _float_buffer(rng, layer, spec).astype(np.float32)
            weights[spec.name] = values
        layer.weights = weights
    return graph

