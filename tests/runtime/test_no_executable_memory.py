"""No executable memory: the runtime never maps a page it can execute (W^X). ncnn's CPU-specific
reciprocal (int8.x86_rcp) is read from pip ncnn running its kernel, not from machine code of ours."""
import os
import subprocess
import sys

from helpers import REPO

PACKAGE = os.path.join(REPO, "ncnnlike")

CHILD = r"""
import numpy as np, onnxruntime, ncnn

def anonymous_executable():
    # executable mappings not backed by a file on disk (anonymous, /dev/zero, memfd)
    import os
    with open("/proc/self/maps") as f:
        rows = [line.split(None, 5) for line in f]
    return {r[0] for r in rows if "x" in r[1] and (len(r) < 6 or not os.path.isfile(r[5].strip())
                                                   or r[5].strip().endswith("(deleted)"))}

from ncnnlike.layers import int8, x86_recip
from helpers import layer, run_layers
before = anonymous_executable()
assert int8.x86_rcp() is not None and x86_recip.rcpss_table() is not None
w = np.ones((16, 1, 3, 3), np.int8)
l = layer("ConvolutionDepthWise", "dw", ["x"], ["y"], {0: 16, 1: 3, 4: 1, 6: w.size, 7: 16, 8: 101},
          {"weight_data": w.ravel(), "weight_data_int8_scales": np.full(16, 40.0, np.float32),
           "bottom_blob_int8_scales": np.float32([20.0]), "top_blob_int8_scales": np.float32([10.0])})
x = np.random.default_rng(0).normal(0, 1, (1, 16, 6, 6)).astype(np.float32)
for mode in ("sim", "fast", "exact"):
    run_layers([l], {"x": x}, int8=mode)
print(sorted(anonymous_executable() - before))
"""


def test_no_package_source_maps_executable_memory():
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    text = f.read()
                for word in ("PROT_EXEC", "CFUNCTYPE", "mprotect", "VirtualAlloc"):
                    assert word not in text, "%s mentions %s" % (os.path.join(folder, name), word)


def test_int8_execution_maps_no_new_executable_pages():
    """Every int8 mode, the CPU reciprocal table included, on Linux: no new anonymous executable mapping."""
    if not os.path.exists("/proc/self/maps"):
        import pytest
        pytest.skip("needs /proc/self/maps")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.path.join(REPO, "tests")]))
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
