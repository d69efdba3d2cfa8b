"""numpy reference of ncnn's RNN / LSTM / GRU forward (src/layer/{rnn,lstm,gru}.cpp), float and
int8 (dynamic activation quantization, spec 3), plus helpers to build such layers for tests."""
import numpy as np

from helpers import layer, run_layers

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
BIAS_ROWS = {"RNN": 1, "LSTM": 4, "GRU": 4}


def float2int8(v):
    """ncnn's x86 float2int8: trunc(v + copysign(0.5, v)) in float32, saturated to +-127 (spec 7.2)."""
    v = np.asarray(v, np.float32)
    return np.clip(np.trunc(v + np.copysign(np.float32(0.5), v)), -127, 127)


def quantize_rows(w):
    """Per-row int8 weights and scales 127/absmax (spec 5.7; absmax 0 -> scale 1)."""
    absmax = np.abs(w).max(axis=-1)
    scales = np.where(absmax == 0, np.float32(1), np.float32(127) / np.maximum(absmax, 1e-30)).astype(np.float32)
    return float2int8(w * scales[..., None]).astype(np.int8), scales


def dot(w, v, scales=None):
    """w @ v in float, or ncnn's int8 product: quantize v with 127/absmax, int32 accumulate, descale."""
    if scales is None:
        return w.astype(np.float32) @ v.astype(np.float32)
    absmax = np.float32(np.abs(v).max())
    if absmax == 0:
        return np.zeros(w.shape[0], np.float32)
    scale = np.float32(127) / absmax
    q = float2int8(v * scale).astype(np.int64)
    acc = w.astype(np.int64) @ q
    descale = (np.float32(1) / scale) * (np.float32(1) / scales.astype(np.float32))
    return (acc.astype(np.float32) * descale).astype(np.float32)


def sigmoid(v):
    return np.float32(1) / (np.float32(1) + np.exp(-v))


def step(kind, x, h, c, w, d):
    """One time step of one direction d; returns (output, h, c)."""
    xs = w.get("xc_scales")
    hs = w.get("hc_scales")
    xsd = None if xs is None else xs[d]
    hsd = None if hs is None else hs[d]
    gx = dot(w["xc"][d], x, xsd)
    gh = dot(w["hc"][d], h, hsd)
    bias = w["bias"][d]
    if kind == "RNN":
        h = np.tanh(bias[0] + gx + gh)
        return h, h, c
    if kind == "LSTM":
        g = bias.reshape(-1) + gx + gh
        i, f, o, gg = np.split(g, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        h = sigmoid(o) * np.tanh(c)
        if w.get("hr") is not None:
            h = w["hr"][d] @ h
        return h, h, c
    rx, ux, nx = np.split(gx, 3)
    rh, uh, nh = np.split(gh, 3)
    r = sigmoid(bias[0] + rx + rh)
    u = sigmoid(bias[1] + ux + uh)
    n = np.tanh(bias[2] + r * (bias[3] + nh) + nx)
    h = (1 - u) * n + u * h
    return h, h, c


def forward(kind, x, w, direction, h0=None, c0=None):
    """ncnn forward of a (T, size) sequence: output (T, D*num_output), hidden (D, num_output), cell."""
    D = 2 if direction == 2 else 1
    num_output = w["hc"].shape[2]
    hidden = w["bias"].shape[2]
    T = x.shape[0]
    outs, hs, cs = [], [], []
    for d in range(D):
        h = np.zeros(num_output, np.float32) if h0 is None else h0[d].astype(np.float32)
        c = np.zeros(hidden, np.float32) if c0 is None else c0[d].astype(np.float32)
        reverse = direction == 1 or d == 1
        y = np.zeros((T, num_output), np.float32)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            y[t], h, c = step(kind, x[t], h, c, w, d)
        outs.append(y)
        hs.append(h)
        cs.append(c)
    return np.concatenate(outs, axis=1), np.stack(hs), np.stack(cs)


def random_weights(kind, size, num_output, D, rng, hidden=None, int8=False, scale=0.4):
    """Random ncnn-layout buffers as a dict: xc (D, rows, size), bias (D, bias_rows, hidden),
    hc (D, rows, num_output), hr (D, num_output, hidden) or None; int8 ones with their row scales."""
    hidden = hidden or num_output
    rows = GATES[kind] * hidden
    w = {"xc": rng.uniform(-scale, scale, (D, rows, size)).astype(np.float32),
         "bias": rng.uniform(-scale, scale, (D, BIAS_ROWS[kind], hidden)).astype(np.float32),
         "hc": rng.uniform(-scale, scale, (D, rows, num_output)).astype(np.float32),
         "hr": rng.uniform(-scale, scale, (D, num_output, hidden)).astype(np.float32) if hidden != num_output else None}
    if int8:
        w["xc"], w["xc_scales"] = quantize_rows(w["xc"])
        w["hc"], w["hc_scales"] = quantize_rows(w["hc"])
    return w


def make_layer(kind, w, direction, bottoms=("x",), tops=("y",), name="rnn"):
    """An ncnn layer from ref weights (int8 storage when the weights carry scales)."""
    D, rows, size = w["xc"].shape
    num_output = w["hc"].shape[2]
    hidden = w["bias"].shape[2]
    params = {0: num_output, 1: D * rows * size, 2: direction}
    if kind == "LSTM":
        params[3] = hidden
    weights = {"weight_xc_data": w["xc"].ravel(), "bias_c_data": w["bias"].ravel(), "weight_hc_data": w["hc"].ravel()}
    if w.get("hr") is not None:
        weights["weight_hr_data"] = w["hr"].ravel()
    if "xc_scales" in w:
        params[8] = 2
        weights["weight_xc_data_int8_scales"] = w["xc_scales"].ravel()
        weights["weight_hc_data_int8_scales"] = w["hc_scales"].ravel()
    return layer(kind, name, bottoms, tops, params, weights)


def input_layers(shapes):
    """Input layers for blob -> ncnn shape (numpy order), with their w/h params."""
    out = []
    for name, shape in shapes.items():
        params = dict(zip((0, 1, 2), reversed(shape)))
        out.append(layer("Input", "in_" + name, [], [name], params))
    return out


def run_pip_ncnn(layers, inputs, outputs, tmp_path):
    """Write the layers (after Input layers) with ncnnlike.io and run them in pip ncnn, one sample."""
    from helpers import ncnn_extract, ncnn_net
    from ncnnlike.graph import Graph
    from ncnnlike.io.model import save_model
    graph = Graph(input_layers({k: v.shape for k, v in inputs.items()}) + list(layers))
    param, binary = str(tmp_path / "m.param"), str(tmp_path / "m.bin")
    save_model(graph, param, binary)
    return ncnn_extract(ncnn_net(param, binary), inputs, outputs)


def cosine(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def run_ours_and_reference(kind, direction, rng, int8=False, hidden=None, states=False, batch=3, T=5,
                           size=8, num_output=16, use_int8=True):
    """Our runtime on a batch vs the numpy reference, sample by sample. Returns (ours, ref) dicts of
    arrays (N, ...) for 'y' and, with states, 'h' and 'c' (LSTM)."""
    D = 2 if direction == 2 else 1
    w = random_weights(kind, size, num_output, D, rng, hidden=hidden, int8=int8)
    n_states = 2 if kind == "LSTM" else 1
    state_names = ["h", "c"][:n_states]
    x = rng.standard_normal((batch, T, size)).astype(np.float32)
    inputs = {"x": x}
    if states:
        inputs["h0"] = rng.uniform(-1, 1, (batch, D, num_output)).astype(np.float32)
        if kind == "LSTM":
            inputs["c0"] = rng.uniform(-1, 1, (batch, D, hidden or num_output)).astype(np.float32)
    bottoms = ["x"] + (["h0", "c0"][:n_states] if states else [])
    tops = ["y"] + (state_names if states else [])
    rnn = make_layer(kind, w, direction, bottoms, tops)
    ours = run_layers([rnn], inputs, tops, int8=use_int8)
    ref = {name: [] for name in tops}
    for i in range(batch):
        y, h, c = forward(kind, x[i], w, direction, inputs["h0"][i] if states else None,
                          inputs["c0"][i] if states and kind == "LSTM" else None)
        for name, value in zip(["y", "h", "c"], [y, h, c]):
            if name in ref:
                ref[name].append(value)
    return ours, {k: np.stack(v) for k, v in ref.items()}, rnn, inputs


def specs(kind, params):
    """The .bin requests (name, count, tagged) of a `kind` layer with these params."""
    from ncnnlike.layers.base import weight_specs
    return [(s.name, s.count, s.tagged) for s in weight_specs(layer(kind, "rnn", ["x"], ["y"], params))]


def assert_matches_reference(kind, direction, seed, atol=1e-5, **options):
    """Our runtime equals the numpy reference on every top (y, and with states=True the states);
    options go to run_ours_and_reference. Returns our outputs."""
    ours, ref, _, _ = run_ours_and_reference(kind, direction, np.random.default_rng(seed), **options)
    for name in ref:
        np.testing.assert_allclose(ours[name], ref[name], atol=atol)
    return ours


def assert_written_files_match_pip_ncnn(kind, tmp_path, int8, hidden=None):
    """A bidirectional layer with state bottoms and tops, written by ncnnlike.io and run by pip ncnn
    on one sample, gives our runtime's tops (cosine >= 0.99999, atol 1e-5)."""
    ours, _, rnn, inputs = run_ours_and_reference(kind, 2, np.random.default_rng(40), int8=int8, hidden=hidden,
                                                  states=True, batch=1)
    theirs = run_pip_ncnn([rnn], {k: v[0] for k, v in inputs.items()}, list(rnn.tops), tmp_path)
    for name in rnn.tops:
        assert cosine(ours[name][0], theirs[name]) >= 0.99999
        np.testing.assert_allclose(ours[name][0], theirs[name], atol=1e-5)
