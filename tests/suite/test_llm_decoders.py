"""The LLM params of ncnn's benchmark suite (../shared/reference/ncnn-benchmark/llm, as pnnx writes
them): each decoder cut to its first decoder block, with seeded random weights and plausible inputs,
against pip ncnn; each proj_out (one Gemm to the vocabulary) at a reduced vocabulary, fp32 and int8.

A decoder's inputs, read from what consumes them (through the Splits): hidden states (seq, hidden)
into the first RMSNorm and the residual add, the attention mask (seq, past + seq) into every SDPA,
the rotary cos / sin caches (seq, rotary_dim / 2) into the RotaryEmbeds, and one past k / v cache
(heads, past, head_dim) per layer into its SDPA. The first block's output is its last residual add
before the second SDPA; its k / v cache tops come out of the first SDPA.

pip ncnn 1.0.20261020's float SDPA with a kv cache (7=1) returns corrupted k / v cache tops (1e6
to 1e32, even with an empty past) and, once the past is non-empty, a wrong attention output (NaN
through the block), see layers/sdpa.py; its dynamic int8 SDPA (18=2) is right. So fp32 is compared
on a prefill (empty past: the block's hidden states), and a decode step (one token after six cached)
with the SDPAs switched to 18=2 in both runtimes (ours emulates that path bit for bit), hidden
states and caches.
"""
import glob
import os
import types
import warnings

import numpy as np
import pytest

from helpers import REFERENCE
from oracle import INT8_BITEXACT, run_ncnn, run_ours
from ncnnlike.io.model import save_model
from ncnnlike.io.param import param_text, read_param
from ncnnlike.io.random_weights import fill_random
from ncnnlike.layers.base import weight_specs
from ncnnlike.passes.cut import apply_cut
from ncnnlike.runtime.lower import lower_shapes, needed_layers

LLM = os.path.join(REFERENCE, "ncnn-benchmark", "llm")
DECODERS = sorted(os.path.basename(path)[:-len("_decoder.ncnn.param")]
                  for path in glob.glob(os.path.join(LLM, "*_decoder.ncnn.param")))
PREFILL, DECODE = (5, 0), (1, 6)     # (tokens, cached tokens)
VOCAB = 4096                         # proj_out's vocabulary, cut from 32k-152k


def read(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_param(os.path.join(LLM, name))


def consumers(graph, blob):
    """(layer, bottom index) of every layer reading `blob`, looking through Splits."""
    found = []
    for layer in graph.layers:
        for i, bottom in enumerate(layer.bottoms):
            if bottom == blob:
                found += [c for t in layer.tops for c in consumers(graph, t)] if layer.type == "Split" else [(layer, i)]
    return found


def first_block(graph):
    """Cut the decoder to the layers its first block needs; returns the blobs compared: the block's
    output (its last residual add before the second SDPA), then the first SDPA's k / v cache tops."""
    sdpa = [i for i, layer in enumerate(graph.layers) if layer.type == "SDPA"]
    adds = [layer for layer in graph.layers[sdpa[0]:sdpa[1]]
            if layer.type == "BinaryOp" and layer.params.get(0, 0) == 0]
    outputs = [adds[-1].tops[0]] + graph.layers[sdpa[0]].tops[1:]
    apply_cut(graph, {layer.name for layer in needed_layers(graph, outputs) if layer.type != "Input"})
    return outputs


def plausible_weights(graph, seed=0):
    """fill_random, except for Gemm: A, B and C uniform with variance 1/K for A and B (each block then
    adds terms of order 1 to the residual stream; fill_random's fan-in rule reads Gemm's alpha as
    num_output), 0.01 for C. Uniform: the 60 M weights of a 1B model's block in a fraction of a second."""
    fill_random(types.SimpleNamespace(layers=[layer for layer in graph.layers if layer.type != "Gemm"]), seed)
    rng = np.random.default_rng(seed)
    for layer in graph.layers:
        if layer.type == "Gemm":
            std = {"A_data": 1 / np.sqrt(layer.params[9]), "B_data": 1 / np.sqrt(layer.params[9])}
            layer.weights = {spec.name: (rng.random(spec.count, dtype=np.float32) - np.float32(0.5))
                             * np.float32(np.sqrt(12) * std.get(spec.name, 0.1)) for spec in weight_specs(layer)}


def input_roles(graph):
    """{role: input blob} by (consumer type, bottom index): hidden, mask, cos, sin, past_k, past_v."""
    kinds = {("RMSNorm", 0): "hidden", ("SDPA", 3): "mask", ("RotaryEmbed", 1): "cos", ("RotaryEmbed", 2): "sin",
             ("SDPA", 4): "past_k", ("SDPA", 5): "past_v"}
    roles = {}
    for blob in graph.input_names():
        for layer, i in consumers(graph, blob):
            if (layer.type, i) in kinds:
                roles[kinds[layer.type, i]] = blob
    assert sorted(roles) == sorted(kinds.values()), roles
    return roles


def block_inputs(graph, tokens, past, seed=0):
    """Plausible inputs: normal hidden states, a causal mask (-inf above the diagonal), rotary caches
    of positions past..past+tokens-1 (base 10000), normal past k / v; shapes inferred from the graph."""
    roles = input_roles(graph)
    hidden = next(layer for layer, _ in consumers(graph, roles["hidden"]) if layer.type == "RMSNorm").params[0]
    shapes = {roles["hidden"]: (tokens, hidden)}
    rope = next(layer for layer, _ in consumers(graph, roles["cos"]))
    half = lower_shapes(graph, shapes, [rope.bottoms[0]]).shape(rope.bottoms[0])[-1] // 2
    shapes[roles["cos"]] = shapes[roles["sin"]] = (tokens, half)
    sdpa = next(layer for layer, _ in consumers(graph, roles["past_k"]))
    ctx = lower_shapes(graph, shapes, sdpa.bottoms[1:3])
    (heads, _, dk), (_, _, dv) = ctx.shape(sdpa.bottoms[1]), ctx.shape(sdpa.bottoms[2])
    rng = np.random.default_rng(seed)
    angle = np.arange(past, past + tokens)[:, None] * 10000.0 ** (-np.arange(half) / half)
    causal = np.arange(past + tokens)[None, :] <= past + np.arange(tokens)[:, None]
    values = {"hidden": rng.standard_normal((tokens, hidden)), "cos": np.cos(angle), "sin": np.sin(angle),
              "past_k": rng.standard_normal((heads, past, dk)), "past_v": rng.standard_normal((heads, past, dv)),
              "mask": np.where(causal, 0, -np.inf)}
    return {roles[role]: np.asarray(value, np.float32)[None] for role, value in values.items()}


@pytest.fixture(scope="module", params=DECODERS)
def decoder(request, tmp_path_factory):
    """(name, param, int8-SDPA param, bin, compared blobs) of the decoder's first block."""
    name = request.param
    graph = read(name + "_decoder.ncnn.param")
    outputs = first_block(graph)
    plausible_weights(graph)
    folder = tmp_path_factory.mktemp(name)
    param, binfile = str(folder / "block.param"), str(folder / "block.bin")
    save_model(graph, param, binfile)
    for layer in graph.layers:
        if layer.type == "SDPA":
            layer.params[18] = 2
    param8 = folder / "block-sdpa8.param"
    param8.write_text(param_text(graph))
    return name, graph, param, str(param8), binfile, outputs


def relative_error(ours, theirs):
    return float(np.abs(ours.astype(np.float64) - theirs).max() / np.abs(theirs).max())


def cosine(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_there_are_seven_decoders_and_seven_proj_outs():
    assert len(DECODERS) == 7 and len(glob.glob(os.path.join(LLM, "*_proj_out.ncnn.param"))) == 7


def test_first_block_prefill_fp32_matches_pip_ncnn(decoder):
    name, graph, param, _, binfile, outputs = decoder
    feeds = block_inputs(graph, *PREFILL)
    theirs = run_ncnn(param, binfile, feeds, outputs)
    ours = run_ours(param, binfile, feeds, outputs)
    hidden = outputs[0]
    assert ours[hidden][0].shape == theirs[hidden][0].shape
    assert relative_error(ours[hidden][0], theirs[hidden][0]) < 2e-5, name
    # pip ncnn's cache tops are corrupted (module docstring); with an empty past they are the SDPA's k, v
    sdpa = next(layer for layer in graph.layers if layer.type == "SDPA")
    kv = run_ncnn(param, binfile, feeds, sdpa.bottoms[1:3])
    for cache, blob in zip(outputs[1:], sdpa.bottoms[1:3]):
        assert relative_error(ours[cache][0], kv[blob][0]) < 2e-5, (name, cache)


def test_first_block_decode_step_with_int8_sdpa_matches_pip_ncnn(decoder):
    """One token after six cached: the int8 attention rounds ulp differences of the float layers
    before it to an int8 step now and then, so the hidden states agree in cosine."""
    name, graph, _, param8, binfile, outputs = decoder
    feeds = block_inputs(graph, *DECODE)
    theirs = run_ncnn(param8, binfile, feeds, outputs, int8=True)
    ours = run_ours(param8, binfile, feeds, outputs, int8="sim")
    assert cosine(ours[outputs[0]][0], theirs[outputs[0]][0]) > 0.99999, name
    for cache in outputs[1:]:
        assert relative_error(ours[cache][0], theirs[cache][0]) < 2e-5, (name, cache)


@pytest.mark.parametrize("name", DECODERS)
def test_proj_out_at_a_reduced_vocabulary_fp32_and_int8(name, tmp_path):
    """The LM head Gemm (hidden -> vocabulary, transB weight, no C) with VOCAB rows: fp32 within
    float rounding, and quantized by model2int8 (quantize_term 2) equal to pip ncnn to the bit."""
    from ncnnlike.quant.convert import quantize_gemm
    graph = read(name + "_proj_out.ncnn.param")
    gemm = next(layer for layer in graph.layers if layer.type == "Gemm")
    gemm.params[8] = VOCAB
    plausible_weights(graph)
    hidden = np.random.default_rng(0).standard_normal((1, 5, gemm.params[9])).astype(np.float32)
    feeds = {graph.input_names()[0]: hidden}
    for label in ("fp32", "int8"):
        if label == "int8":
            quantize_gemm(gemm)
        param, binfile = str(tmp_path / (label + ".param")), str(tmp_path / (label + ".bin"))
        save_model(graph, param, binfile)
        out = graph.output_names()[0]
        theirs = run_ncnn(param, binfile, feeds, [out], int8=label == "int8")[out][0]
        if label == "fp32":
            assert relative_error(run_ours(param, binfile, feeds, [out])[out][0], theirs) < 2e-5
            continue
        for mode in ("sim", True):
            ours = run_ours(param, binfile, feeds, [out], int8=mode)[out][0]
            np.testing.assert_allclose(ours, theirs, **INT8_BITEXACT)
