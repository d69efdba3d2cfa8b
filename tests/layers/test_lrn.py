"""LRN against pip ncnn: across / within channel, odd and even local_size, 1-D/2-D/3-D blobs, and
the LRN lines of ncnn's benchmark alexnet.param and googlenet.param.

Tolerance rtol 2e-6: pip ncnn's x86 LRN takes the power with an AVX exp(log) approximation
(pow256_ps) on runs of 8 values; measured relative differences are <= 2.1e-7 (a few ulps).
"""
import os

import numpy as np
import pytest
from helpers import REFERENCE, layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError

RNG = np.random.default_rng(0)
BENCH = os.path.join(REFERENCE, "ncnn-benchmark")


@pytest.mark.parametrize("params,shape", [
    ("", (9, 5, 7)),                                   # defaults: across channels, 5, 1, 0.75, 1
    ("0=0 1=4 2=0.5 3=0.75 4=2.0", (7, 5, 9)),         # even local_size: channels q-2 .. q+1
    ("0=0 1=1 2=0.3 3=0.5", (4, 3, 10)),
    ("0=1 1=3 2=0.3 3=0.6 4=1.5", (3, 9, 11)),         # within channel
    ("0=1 1=4 2=0.3 3=0.6 4=1.5", (3, 9, 11)),         # even: pad 2 before, 1 after
    ("0=0 1=5 2=2.0 3=0.75", (9, 17)),                 # 2-D: one channel
    ("0=1 1=3 2=2.0 3=0.75", (6, 17)),
    ("0=1 1=3 2=2.0 3=0.75", (23,)),                   # 1-D: one channel, one row
])
def test_lrn_matches_ncnn(tmp_path, params, shape):
    x = RNG.standard_normal(shape).astype(np.float32) * 2
    check_ncnn("Input in 0 1 x\nLRN l 1 1 x y " + params, {"x": x}, tmp_path, atol=1e-6, rtol=2e-6)


def bench_lrn_lines():
    """(line, (c, h, w)) of every LRN in alexnet.param and googlenet.param, shape from its hint."""
    out = []
    for name in ("alexnet.param", "googlenet.param"):
        with open(os.path.join(BENCH, name)) as f:
            for line in f:
                if line.startswith("LRN "):
                    hint = next(t for t in line.split() if t.startswith("-23330="))
                    _, w, h, c = map(int, hint.split("=")[1].split(",")[1:])
                    out.append((line.strip(), (c, h, w)))
    return out


def test_benchmark_alexnet_and_googlenet_lrn_match_ncnn(tmp_path):
    lines = bench_lrn_lines()
    assert len(lines) == 4
    for i, (line, shape) in enumerate(lines):
        bottom = line.split()[4]
        x = np.maximum(RNG.standard_normal(shape), 0).astype(np.float32) * 20   # post-ReLU activations
        folder = tmp_path / str(i)
        folder.mkdir()
        check_ncnn("Input in 0 1 %s\n%s" % (bottom, line), {bottom: x}, folder, atol=1e-5, rtol=2e-6)


@pytest.mark.parametrize("params,shape,match", [
    ({0: 2}, (3, 4, 5), "region_type"),
    ({1: 0}, (3, 4, 5), "local_size"),
    ({}, (2, 3, 4, 5), "4-D"),
    ({4: -1.0}, (3, 4, 5), "bias"),
])
def test_bad_params_are_refused_naming_the_layer(params, shape, match):
    with pytest.raises(NcnnlikeError, match=r"layer lrn1 \(LRN\).*" + match):
        run_layers([layer("LRN", "lrn1", ["x"], ["y"], params)], {"x": np.ones((1,) + shape, np.float32)})
