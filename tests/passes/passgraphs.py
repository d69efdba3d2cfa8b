"""Pass tests' toolbox: a graph from a few .param layer lines with seeded random weights, and the
check that two graphs compute the same outputs in our runtime."""
import numpy as np

from ncnnlike.io.param import read_param
from ncnnlike.layers.base import weight_specs
from ncnnlike.passes.shape_inference import input_shapes
from ncnnlike.runtime import Net


def graph_from(lines, tmp_path, seed=0):
    """Parse layer lines (the header is computed) and fill every weight buffer with seeded random
    float32 values (BatchNorm variances positive)."""
    rows = [line.strip() for line in lines.strip().splitlines() if line.strip()]
    blobs = {b for row in rows for b in _blob_names(row)}
    path = tmp_path / ("g%d.param" % seed)
    path.write_text("7767517\n%d %d\n%s\n" % (len(rows), len(blobs), "\n".join(rows)))
    graph = read_param(str(path))
    rng = np.random.default_rng(seed)
    for layer in graph.layers:
        for spec in weight_specs(layer):
            values = rng.standard_normal(spec.count).astype(np.float32)
            if spec.name == "var_data":
                values = rng.uniform(0.5, 2.0, spec.count).astype(np.float32)
            layer.weights[spec.name] = values
    return graph


def _blob_names(row):
    parts = row.split()
    nb, nt = int(parts[2]), int(parts[3])
    return parts[4:4 + nb + nt]


def types(graph):
    return [layer.type for layer in graph.layers]


def run(graph, inputs, outputs=None):
    net = Net.from_graph(graph)
    net.opt.num_threads = 1
    return net.run(inputs, outputs or graph.output_names())


def random_inputs(graph, batch=2, seed=1):
    """One float32 batch per Input layer, from the Input layers' declared shapes."""
    shapes, shapeless = input_shapes(graph)
    assert shapes is not None, "Input %s has no shape" % shapeless.name
    rng = np.random.default_rng(seed)
    return {blob: rng.standard_normal((batch,) + tuple(shape)).astype(np.float32) for blob, shape in shapes.items()}


def assert_same_outputs(before, after, atol=1e-5, inputs=None, outputs=None):
    """Same values within atol on random inputs, for `outputs` (default: the output blobs, which
    must then have the same names in both graphs)."""
    if outputs is None:
        assert sorted(before.output_names()) == sorted(after.output_names())
    inputs = inputs or random_inputs(before)
    want, got = run(before, inputs, outputs), run(after, inputs, outputs)
    for name in want:
        assert want[name].shape == got[name].shape, name
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=atol, err_msg=name)
