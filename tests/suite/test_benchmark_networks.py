"""ncnn's 35 benchmark networks (../shared/reference/ncnn-benchmark), with seeded random weights:
each loads as written, our fp32 (or stored int8) outputs equal pip ncnn's, model-optimize writes
ncnnoptimize's .param, and the int8 flow (model2table on npy inputs, model2int8) gives ncnn2int8's
bytes and files pip ncnn runs like ours (our runtime's "sim" int8 mode, ncnn's arithmetic emulated;
the default fast kernels' deviation is printed by tools/suite_parity.py, not asserted). Detection
outputs are compared as box sets (the fast path's on the raw heads); a final Softmax is compared on
its logits (see compared_blobs)."""
import pytest

import helpers  # noqa: F401  (puts the repository on sys.path for tools/)

from tools import suite_parity

NETWORKS = suite_parity.networks()
FP32_COSINE, INT8_COSINE = 0.99999, 0.999


def test_the_suite_has_the_35_networks():
    assert len(NETWORKS) == 35


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_loads_runs_optimizes_and_quantizes_like_ncnn(name, tmp_path):
    row = suite_parity.check_network(name, NETWORKS[name], str(tmp_path))
    assert isinstance(row["fp32"], float) and row["fp32"] >= FP32_COSINE, row
    if row["optimize"].startswith("n/a"):
        return
    assert row["optimize"] == "equal", row
    # the one documented difference: ncnn2int8 scales a transposed constant B by its first row only
    assert row["int8 flow"] in ("= ncnn2int8", "= ncnn2int8 but Gemm B scale"), row
    assert isinstance(row["int8 sim"], float) and row["int8 sim"] >= INT8_COSINE, row
