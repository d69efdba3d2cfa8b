"""RMSNorm against pip ncnn: the LLM decoders' `RMSNorm 0=1024 1=1e-6 2=1` on a (tokens, hidden)
blob, per-head 3-D norms, the w / h*w / d*h*w choices of 3-D and 4-D blobs, with and without affine.

Tolerance rtol 2e-6: float32 sums of squares in a different order (measured <= 3.5e-7 relative).
"""
import os

import numpy as np
import pytest
from helpers import REFERENCE, layer, run_layers
from oracle import check_ncnn

from ncnnlike.errors import NcnnlikeError
from ncnnlike.layers.base import weight_specs

RNG = np.random.default_rng(0)
LLM = os.path.join(REFERENCE, "ncnn-benchmark", "llm", "qwen3_0.6b_decoder.ncnn.param")


def test_llm_decoder_rmsnorm_line_matches_ncnn(tmp_path):
    with open(LLM) as f:
        line = next(ln.strip() for ln in f
                    if ln.startswith("RMSNorm") and ln.rstrip().endswith("0=1024 1=1.000000e-06 2=1"))
    bottom = line.split()[4]
    x = RNG.standard_normal((7, 1024)).astype(np.float32) * 3
    check_ncnn("Input in 0 1 %s\n%s" % (bottom, line), {bottom: x}, tmp_path, atol=1e-6, rtol=2e-6)


@pytest.mark.parametrize("shape,affine_size", [
    ((12,), 12), ((8, 16), 16), ((16, 4, 128), 128), ((3, 4, 5), 20), ((2, 3, 4, 5), 5), ((2, 3, 4, 5), 20),
    ((4, 3, 4, 5), 60),
])
@pytest.mark.parametrize("extra", [" 1=1e-6", " 2=0"])
def test_rmsnorm_matches_ncnn(tmp_path, shape, affine_size, extra):
    x = (RNG.standard_normal(shape) * 3 + 1).astype(np.float32)
    line = "RMSNorm r 1 1 x y 0=%d%s" % (affine_size, extra)
    check_ncnn("Input in 0 1 x\n" + line, {"x": x}, tmp_path, atol=1e-6, rtol=2e-6)


def test_eps_0_as_pnnx_writes_it_for_some_llms(tmp_path):
    x = RNG.standard_normal((5, 64)).astype(np.float32)
    check_ncnn("Input in 0 1 x\nRMSNorm r 1 1 x y 0=64 1=0.0 2=1", {"x": x}, tmp_path, atol=1e-6, rtol=2e-6)


def test_bin_holds_gamma_only_when_affine():
    specs = weight_specs(layer("RMSNorm", "r", ["x"], ["y"], {0: 1024, 1: 1e-6}))
    assert [(s.name, s.count, s.tagged) for s in specs] == [("gamma_data", 1024, False)]
    assert weight_specs(layer("RMSNorm", "r", ["x"], ["y"], {0: 1024, 2: 0})) == []


def test_affine_size_not_matching_the_blob_is_refused_naming_the_layer():
    lay = layer("RMSNorm", "rms1", ["x"], ["y"], {0: 7}, {"gamma_data": np.ones(7, np.float32)})
    with pytest.raises(NcnnlikeError, match=r"layer rms1 \(RMSNorm\).*affine_size 7"):
        run_layers([lay], {"x": np.ones((1, 3, 4, 5), np.float32)})
