"""method=eq (spec 5.8): the int8 simulation, ncnn's sequential search order, and the objective on tiny."""
import os

import numpy as np
import pytest

from helpers import REFERENCE, layer, run_layers
from ncnnlike.io.model import load_model
from ncnnlike.layers.activation import apply_fused
from ncnnlike.layers.base import resolve
from ncnnlike.layers.convolution import pads_and_out
from ncnnlike.quant.calibrate import collect_stats
from ncnnlike.quant.images import iter_batches, parse_preprocess, read_lists
from ncnnlike.quant.methods import compute_table, eq
from ncnnlike.quant.weights import weight_scales
from ncnnlike.runtime import Net

TINY = os.path.join(REFERENCE, "tiny")
TINY_OPTIONS = {"mean": "[104,117,123]", "norm": "[0.017,0.017,0.017]", "shape": "[32,32,3]", "pixel": "BGR"}


# ---------------------------------------------------------------- numpy reference (spec 7.2, 8)

def float2int8(v):
    v = np.asarray(v, np.float32)
    return np.clip(np.trunc(v + np.copysign(np.float32(0.5), v)), -127, 127)


def int8_forward(lay, x, w_scales, s_in):
    """ncnn's int8 Convolution / ConvolutionDepthWise / InnerProduct on fp32 bottoms x (n, *shape)."""
    p = resolve(lay)
    w = lay.weight("weight_data")
    bias = lay.weight("bias_data") if p.bias_term else np.zeros(p.num_output, np.float32)
    w_scales = np.asarray(w_scales, np.float32)
    per_channel = np.repeat(w_scales, p.num_output // len(w_scales))
    qw = float2int8(w.reshape(len(w_scales), -1) * w_scales[:, None]).reshape(p.num_output, -1)
    qx = float2int8(x * np.float32(s_in)).astype(np.float64)
    if lay.type == "InnerProduct":
        acc = qx @ qw.T.astype(np.float64) if x.ndim == 3 else qx.reshape(len(x), -1) @ qw.T.astype(np.float64)
        shape_bias = bias
    else:
        n, c, h, wd = x.shape
        group = p.group if lay.type == "ConvolutionDepthWise" else 1
        (t, left, b, r), (ho, wo) = pads_and_out(p, h, wd)
        qx = np.pad(qx, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=np.trunc(p.pad_value))  # spec 8 step 2
        kernels = qw.reshape(group, p.num_output // group, c // group, p.kernel_h, p.kernel_w)
        acc = np.zeros((n, group, p.num_output // group, ho, wo))
        for i in range(p.kernel_h):
            for j in range(p.kernel_w):
                y0, x0 = i * p.dilation_h, j * p.dilation_w
                patch = qx[:, :, y0:y0 + (ho - 1) * p.stride_h + 1:p.stride_h,
                           x0:x0 + (wo - 1) * p.stride_w + 1:p.stride_w]
                acc += np.einsum("ngchw,goc->ngohw", patch.reshape(n, group, c // group, ho, wo), kernels[..., i, j])
        acc = acc.reshape(n, p.num_output, ho, wo)
        per_channel, shape_bias = per_channel[:, None, None], bias[:, None, None]
    scale_in = np.float32(1) / (np.float32(s_in) * per_channel)
    v = acc.astype(np.float32) * scale_in + shape_bias
    return apply_fused(v, p.activation_type, p.activation_params)


def summed_cosine(lay, x, y, w_scales, s_in):
    out = int8_forward(lay, x, w_scales, s_in).reshape(len(x), -1).astype(np.float64)
    ref = y.reshape(len(y), -1).astype(np.float64)
    return float(((out * ref).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(ref, axis=1)).sum())


def brute_force_eq(lay, x, y, w_scales, s_in):
    """The search done the slow way: every candidate re-runs the whole layer, units in order."""
    w_scales = np.array(w_scales, np.float32)
    for u in range(len(w_scales)):
        sums = []
        for s in list(eq.candidate_scales(w_scales[u])) + [w_scales[u]]:
            trial = w_scales.copy()
            trial[u] = s
            sums.append(summed_cosine(lay, x, y, trial, s_in))
        w_scales[u] = (list(eq.candidate_scales(w_scales[u])) + [w_scales[u]])[eq._pick(np.array(sums))]
    candidates = list(eq.candidate_scales(s_in)) + [np.float32(s_in)]
    sums = [summed_cosine(lay, x, y, w_scales, s) for s in candidates]
    return w_scales, candidates[eq._pick(np.array(sums))]


def fp32_top(lay, x):
    return run_layers([lay], {lay.bottoms[0]: x}, [lay.tops[0]], int8=False)[lay.tops[0]]


# ---------------------------------------------------------------- tests

def test_candidates_are_ncnns_float32_grid():
    c = eq.candidate_scales(np.float32(77.805656))
    assert c.shape == (100,) and c[0] == np.float32(77.805656) * np.float32(0.5)
    assert "%f" % c[50] == "97.257065"          # ncnn2table-eq.log: "convrelu_0 w 0 = 77.805656 -> 97.257065"
    assert c[-1] / c[0] == pytest.approx(1.985 / 0.5, rel=1e-6)


def test_quantize_rounds_half_away_and_clamps():
    assert eq.quantize(np.array([0.5, -0.5, 1.5, -2.5, 200, -0.49999997], np.float32), 1).tolist() == \
        [1, -1, 2, -3, 127, -1]


SMALL_LAYERS = {
    "conv_s2_leaky": layer("Convolution", "c", ["x"], ["y"], {0: 5, 1: 3, 3: 2, 4: 1, 5: 1, 6: 5 * 4 * 9, 9: 2,
                                                               10: [0.1]}),
    "dw_multiplier2_clip": layer("ConvolutionDepthWise", "d", ["x"], ["y"], {0: 8, 1: 3, 4: 1, 5: 1, 6: 8 * 9, 7: 4,
                                                                             9: 3, 10: [-1.0, 1.5]}),
    "ip_rows": layer("InnerProduct", "f", ["x"], ["y"], {0: 6, 1: 1, 2: 6 * 12}),
    "ip_flatten_sigmoid": layer("InnerProduct", "g", ["x"], ["y"], {0: 5, 1: 1, 2: 5 * 12, 9: 4}),
    "conv_pad_value_2": layer("Convolution", "v", ["x"], ["y"], {0: 3, 1: 3, 4: 1, 5: 1, 6: 3 * 4 * 9, 18: 2.0}),
    "pointwise_s2_relu": layer("Convolution", "p", ["x"], ["y"], {0: 6, 1: 1, 3: 2, 5: 1, 6: 6 * 4, 9: 1}),
}


@pytest.mark.parametrize("name", sorted(SMALL_LAYERS))
def test_search_equals_brute_force_sequential_order(name, monkeypatch):
    rng = np.random.default_rng(7)
    lay = SMALL_LAYERS[name]
    p = resolve(lay)
    lay.weights = {"weight_data": rng.standard_normal(p.weight_data_size).astype(np.float32) * 0.3,
                   "bias_data": rng.standard_normal(p.num_output).astype(np.float32) * 0.1}
    shape = {"ip_rows": (3, 5, 12), "ip_flatten_sigmoid": (3, 3, 2, 2)}.get(name, (3, 4, 7, 9))
    x = rng.standard_normal(shape).astype(np.float32)
    y = fp32_top(lay, x)
    w0 = weight_scales(lay)
    s0 = np.float32(127 / np.abs(x).max())
    spec = eq.int8_layer(lay, x.shape[1:])
    monkeypatch.setattr(eq, "_RUN_ELEMENTS", 700)       # many small chunks of units, samples, candidates
    monkeypatch.setattr(eq, "_CHUNK_BYTES", 1)          # the quantized bottom made one sample at a time
    ws, s_in, before, after = eq.equalize_layer(spec, x, y, w0, s0, threads=2)
    ref_ws, ref_s = brute_force_eq(lay, x, y, w0, s0)
    np.testing.assert_array_equal(ws, ref_ws)
    assert s_in == ref_s
    assert before == pytest.approx(summed_cosine(lay, x, y, w0, s0), abs=1e-6)
    assert after == pytest.approx(summed_cosine(lay, x, y, ws, s_in), abs=1e-6)
    assert after > before


def one_by_one_conv(w):
    return layer("Convolution", "c", ["x"], ["y"], {0: w.shape[0], 1: 1, 5: 1, 6: w.size},
                 {"weight_data": w.reshape(-1), "bias_data": np.zeros(w.shape[0], np.float32)})


@pytest.mark.parametrize("seed", [0, 1])
def test_outlier_weight_gets_a_larger_weight_scale(seed):
    """Channel 1 has an outlier weight on an input channel that is ~0: 127/absmax leaves its other
    weights few int8 levels, and a scale near the top of the range is clearly better."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((2, 32)).astype(np.float32) * 0.1
    w[1, 0] = 5.0
    lay = one_by_one_conv(w)
    x = rng.standard_normal((6, 32, 12, 12)).astype(np.float32)
    x[:, 0] *= 0.001
    y = fp32_top(lay, x)
    w0, s0 = weight_scales(lay), np.float32(127 / np.abs(x).max())
    ws, s_in, before, after = eq.equalize_layer(eq.int8_layer(lay, x.shape[1:]), x, y, w0, s0)
    assert ws[1] > 1.7 * w0[1]
    assert summed_cosine(lay, x, y, ws, s_in) > summed_cosine(lay, x, y, w0, s0) + 0.01
    assert after == pytest.approx(summed_cosine(lay, x, y, ws, s_in), abs=1e-6)


def test_too_small_bottom_scale_moves_to_the_top_candidate():
    """A bottom scale of 127/(3*absmax) wastes two thirds of the int8 range: EQ takes the largest
    candidate, 1.985x."""
    rng = np.random.default_rng(5)
    lay = one_by_one_conv(rng.standard_normal((4, 16)).astype(np.float32))
    x = rng.standard_normal((5, 16, 8, 8)).astype(np.float32)
    y = fp32_top(lay, x)
    w0, s0 = weight_scales(lay), np.float32(127 / (3 * np.abs(x).max()))
    ws, s_in, before, after = eq.equalize_layer(eq.int8_layer(lay, x.shape[1:]), x, y, w0, s0)
    assert s_in == eq.candidate_scales(s0)[-1]
    assert after > before + 0.001


@pytest.fixture(scope="module")
def tiny_eq():
    graph = load_model(os.path.join(TINY, "tiny-opt.param"), os.path.join(TINY, "tiny-opt.bin"))
    net = Net.from_graph(graph)
    net.opt.num_threads, net.opt.use_int8_inference = 2, False
    preprocess = parse_preprocess(TINY_OPTIONS, graph.input_names())
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    stats = collect_stats(net, lists, preprocess, histogram=True, threads=2, progress=False)
    kl = compute_table(graph, stats, "kl")
    table = eq.equalize_table(net, lists, preprocess, stats, threads=2, progress=False)
    return graph, net, kl, table, lists, preprocess, stats


def test_tiny_eq_scales_are_finite_positive_and_in_the_candidate_range(tiny_eq):
    _, _, kl, table = tiny_eq[:4]
    assert list(table[0]) == list(kl[0]) and list(table[1]) == list(kl[1]) and table[2] == kl[2]
    changed = 0
    for lines_eq, lines_kl in ((table[0], kl[0]), (table[1], kl[1])):
        for key, values in lines_eq.items():
            assert values.dtype == np.float32 and values.shape == lines_kl[key].shape
            assert np.all(np.isfinite(values)) and np.all(values > 0)
            ratio = values / lines_kl[key]
            assert np.all((ratio >= 0.5 - 1e-6) & (ratio <= 1.985 + 1e-6)), key
            changed += int(np.sum(values != lines_kl[key]))
    assert changed > 20


def test_tiny_eq_never_lowers_any_layers_summed_cosine(tiny_eq):
    graph, net, kl, table = tiny_eq[:4]
    lists = read_lists([os.path.join(TINY, "calib20-png.txt")])
    inputs = next(iter_batches(lists, parse_preprocess(TINY_OPTIONS, graph.input_names()), 20))
    convs = [lay for lay in graph if lay.type in ("Convolution", "ConvolutionDepthWise", "InnerProduct")]
    blobs = net.run(inputs, sorted({b for lay in convs for b in (lay.bottoms[0], lay.tops[0])}))
    gains = []
    for lay in convs:
        x, y = blobs[lay.bottoms[0]], blobs[lay.tops[0]]
        before = summed_cosine(lay, x, y, kl[0][lay.name + "_param_0"], kl[1][lay.name][0])
        after = summed_cosine(lay, x, y, table[0][lay.name + "_param_0"], table[1][lay.name][0])
        assert after >= before - 1e-9, lay.name
        gains.append(after - before)
    assert max(gains) > 1e-3


def test_tiny_eq_table_does_not_depend_on_threads(tiny_eq):
    graph, net, _, table, lists, preprocess, stats = tiny_eq
    net.opt.num_threads = 1
    single = eq.equalize_table(net, lists, preprocess, stats, threads=1, progress=False)
    net.opt.num_threads = 2
    for lines, lines_single in zip(table[:2], single[:2]):
        assert list(lines) == list(lines_single)
        for key in lines:
            np.testing.assert_array_equal(lines[key], lines_single[key])


def test_tiny_eq_table_does_not_depend_on_holding_a_layers_blobs_in_chunks(tiny_eq, monkeypatch):
    """A layer whose blobs for every sample exceed _BLOB_BYTES is searched a chunk of samples at a time,
    fetched again for each search: the same table as holding them whole, group for group."""
    graph, net, _, _, lists, preprocess, stats = tiny_eq
    monkeypatch.setattr(eq, "_BLOB_BYTES", 1)            # every layer alone, in chunks of one fetch batch
    monkeypatch.setattr(eq, "_FETCH_BATCH", 3)
    groups, seen = eq._fetch_groups, []
    monkeypatch.setattr(eq, "_fetch_groups", lambda *a: seen.extend(groups(*a)) or seen)
    chunked = eq.equalize_table(net, lists, preprocess, stats, threads=2, progress=False)
    convs = [lay.name for lay in graph if lay.type in ("Convolution", "ConvolutionDepthWise", "InnerProduct")]
    assert [[lay.name for lay in group] for group, _ in seen] == [[name] for name in convs]
    assert all(chunks == [(n, min(n + 3, 20)) for n in range(0, 20, 3)] for _, chunks in seen)
    monkeypatch.setattr(eq, "_fetch_groups", lambda *a: [(group, [(0, a[2])]) for group, _ in groups(*a)])
    whole = eq.equalize_table(net, lists, preprocess, stats, threads=2, progress=False)
    for lines, lines_whole in zip(chunked[:2], whole[:2]):
        assert list(lines) == list(lines_whole)
        for key in lines:
            np.testing.assert_array_equal(lines[key], lines_whole[key])


def test_first_step_matches_ncnn2table_eq_log(tiny_eq):
    """ncnn's one completed step (its sample loop reuses sample 0, spec 5.8 BUG): convrelu_0's weight
    scale 0 goes 77.805656 -> 97.257065 with bottom scale 58.348942 (the calib20.txt KL run). Sample 0
    here is outputs.npz's (OpenCV decode; ncnn2table's stb_image JPEG decode differs slightly)."""
    graph = tiny_eq[0]
    lay = graph.layer("convrelu_0")
    x = np.load(os.path.join(TINY, "outputs.npz"))["inputs"][:1]
    y = fp32_top(lay, x)
    spec = eq.int8_layer(lay, x.shape[1:])
    w0 = weight_scales(lay)
    assert "%f" % w0[0] == "77.805656"
    s_in = np.float32(58.348942)
    xq = eq.quantize(x, s_in)
    xq = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    scales = np.concatenate([eq.candidate_scales(w0), w0[:, None]], axis=1)
    d, q = eq.weight_contributions(spec, xq, spec.top(y), s_in, scales, 1)
    y_norm = np.linalg.norm(y.reshape(1, -1).astype(np.float64), axis=1)
    chosen = eq.search_weight_scales(d, q, y_norm, scales)
    assert "%f" % chosen[0] == "97.257065"


def test_six_bit_layer_weight_candidates_never_exceed_the_cap():
    """A 3x3 stride-1 Convolution keeps |q_w| <= 31 (ncnn's Winograd int16 bound): capped candidates."""
    from ncnnlike.quant.methods.eq import equalize_layer, int8_layer
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0] = 8.0   # an outlier that EQ would like to clip with a larger scale
    l = layer("Convolution", "c", ["x"], ["y"], {0: 4, 1: 3, 4: 1, 6: w.size}, {"weight_data": w.ravel()})
    x = rng.standard_normal((6, 2, 8, 8)).astype(np.float32)
    y = run_layers([l], {"x": x}, ["y"], int8=False)["y"]
    cap = (np.float32(31) / np.abs(w).reshape(4, -1).max(axis=1)).astype(np.float32)
    scales, _, _, _ = equalize_layer(int8_layer(l, (2, 8, 8)), x, y, cap, np.float32(127 / 3.0), weight_cap=cap)
    assert np.all(scales <= cap)
    q = np.abs(np.trunc(w.reshape(4, -1) * scales[:, None] + 0.5))
    assert q.max() <= 31


@pytest.mark.parametrize("name", ["conv_s2_leaky", "ip_flatten_sigmoid", "pointwise_s2_relu"])
def test_int8_prototype_equals_brute_force(name, monkeypatch):
    """tools/eq_int8_proto.py (the u8s8 integer searches that tools/eq_bound.py times) chooses what the
    brute-force search chooses: im2col, the +128 zero point and the in-graph quantization are exact."""
    from tools import eq_int8_proto as proto
    from tools.eq_bound import run_search
    rng = np.random.default_rng(11)
    lay = SMALL_LAYERS[name]
    p = resolve(lay)
    lay.weights = {"weight_data": rng.standard_normal(p.weight_data_size).astype(np.float32) * 0.3,
                   "bias_data": rng.standard_normal(p.num_output).astype(np.float32) * 0.1}
    x = rng.standard_normal((3, 3, 2, 2) if name.startswith("ip") else (3, 4, 7, 9)).astype(np.float32)
    y = fp32_top(lay, x)
    w0, s0 = weight_scales(lay), np.float32(127 / np.abs(x).max())
    spec = eq.int8_layer(lay, x.shape[1:])
    assert proto.supported(spec)
    monkeypatch.setattr(proto, "RUN_ELEMENTS", 900)      # many chunks of units, samples and candidates
    _, _, _, chosen, sums, _ = run_search(proto, spec, spec.bottom(x), spec.top(y), s0, w0, 2)
    ref_ws, ref_s = brute_force_eq(lay, x, y, w0, s0)
    np.testing.assert_array_equal(chosen, ref_ws)
    assert np.append(eq.candidate_scales(s0), s0)[eq._pick(sums)] == ref_s
